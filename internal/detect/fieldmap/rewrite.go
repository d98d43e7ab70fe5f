package fieldmap

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Value rewrites that turn Defender's representation into the one Sysmon
// (and so SigmaHQ rules) uses.

// hives maps Defender's long registry hive names to the short ones Sysmon
// and so Sigma rules use. Defender writes HKEY_CURRENT_USER\<SID>\..., which
// Sysmon reports as HKU\<SID>\...
var hives = []struct{ long, short string }{
	{`HKEY_LOCAL_MACHINE`, `HKLM`},
	{`HKEY_USERS`, `HKU`},
	{`HKEY_CURRENT_USER`, `HKU`},
	{`HKEY_CLASSES_ROOT`, `HKCR`},
	{`HKEY_CURRENT_CONFIG`, `HKCC`},
}

func shortHive(key string) string {
	for _, h := range hives {
		if len(key) >= len(h.long) && strings.EqualFold(key[:len(h.long)], h.long) &&
			(len(key) == len(h.long) || key[len(h.long)] == '\\') {
			return h.short + key[len(h.long):]
		}
	}
	return key
}

// sysmonDetails renders registry data the way Sysmon's Details field does
// for numbers, which rules compare against ("DWORD (0x00000001)").
func sysmonDetails(data, typ string) string {
	switch strings.ToLower(typ) {
	case "dword", "reg_dword":
		if n, err := parseRegNumber(data); err == nil {
			return fmt.Sprintf("DWORD (0x%08x)", uint32(n))
		}
	case "qword", "reg_qword":
		if n, err := parseRegNumber(data); err == nil {
			return fmt.Sprintf("QWORD (0x%08x-0x%08x)", uint32(n>>32), uint32(n))
		}
	case "binary", "reg_binary":
		return "Binary Data"
	}
	return data
}

func parseRegNumber(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		return strconv.ParseUint(h, 16, 64)
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return uint64(n), err
}

// urlHost returns the host of a URL, or of a bare "host[:port][/path]".
func urlHost(s string) string {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if h, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(s[len(h)+1:], ":") {
		s = h
	}
	return s
}
