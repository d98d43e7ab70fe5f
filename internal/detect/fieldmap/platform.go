package fieldmap

import (
	"strings"
	"sync"
)

// Platforms a record can have (see PlatformMap).
const (
	PlatformWindows = "windows"
	PlatformLinux   = "linux"
	PlatformMacOS   = "macos"
	PlatformPosix   = "posix" // Linux or macOS, not known which
	PlatformUnknown = "unknown"
)

// platform classifies the record by the first path property that tells
// (a bare name such as "System" does not), refined by what the device's
// DeviceInfo record said.
func (r *Record) platform(paths []string) string {
	var device string
	if v := r.prop("DeviceId"); v != nil {
		device = r.m.devices.platform(v.GetStringBytes())
	}
	for _, p := range paths {
		s := r.propString(p)
		switch {
		case s == "":
			continue
		case s[0] == '/':
			if device == PlatformLinux || device == PlatformMacOS {
				return device
			}
			return PlatformPosix
		case len(s) >= 3 && s[1] == ':' && (s[2] == '\\' || s[2] == '/') && isLetter(s[0]),
			strings.HasPrefix(s, `\\`):
			return PlatformWindows
		}
	}
	if device != "" {
		return device
	}
	return PlatformUnknown
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// maxDevices bounds the devices remembered; the oldest are forgotten.
const maxDevices = 100000

// deviceCache remembers each device's platform from DeviceInfo records
// (Defender sends them periodically), shared by all workers. It is only a
// refinement: a device not (yet) seen is judged by its paths alone, so a
// restart loses nothing but precision until DeviceInfo records arrive.
type deviceCache struct {
	mu    sync.RWMutex
	byID  map[string]string
	order []string // insertion order, for eviction
	max   int
}

func newDeviceCache(max int) *deviceCache {
	return &deviceCache{byID: map[string]string{}, max: max}
}

// learn records a device's platform from DeviceInfo.OSPlatform
// ("Windows11", "WindowsServer2022", "Linux", "macOS", ...).
func (c *deviceCache) learn(id, osPlatform string) {
	var p string
	switch os := strings.ToLower(osPlatform); {
	case id == "":
		return
	case strings.HasPrefix(os, "windows"):
		p = PlatformWindows
	case strings.HasPrefix(os, "mac"):
		p = PlatformMacOS
	case os == "linux" || strings.Contains(os, "linux") || os == "ubuntu" || os == "debian" || os == "redhat" || os == "centos":
		p = PlatformLinux
	default:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, known := c.byID[id]; !known {
		c.order = append(c.order, id)
		if len(c.order) > c.max {
			delete(c.byID, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.byID[id] = p
}

func (c *deviceCache) platform(id []byte) string {
	if len(id) == 0 {
		return ""
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byID[string(id)] // no allocation for a map lookup
}
