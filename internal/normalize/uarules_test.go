package normalize

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ua-parser/uap-go/uaparser"
)

// uaSamples are user agents of the kinds Defender records carry (browsers,
// Office and Teams clients, SDKs, scripts, bots, phones), with case and
// non-ASCII variants that exercise the prefilter's limits.
var uaSamples = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)",
	"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
	"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Teams/1.6.00.29964 Chrome/85.0.4183.121 Electron/10.4.7 Safari/537.36",
	"Outlook-iOS/723.4027091.prod.iphone (4.2408.0)",
	"azsdk-python-storage-blob/12.19.0 Python/3.11.6 (Linux-6.5.0-x86_64-with-glibc2.35)",
	"azsdk-python-storage-blob/12.19.0",
	"controller/v0.0.0 (linux/amd64) kubernetes/$Format/leader-election",
	"python-requests/2.31.0",
	"curl/8.4.0",
	"Wget/1.21.4",
	"PowerShell/7.4.0",
	"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506",
	"Go-http-client/1.1",
	"okhttp/4.12.0",
	"Googlebot/2.1 (+http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Client=Client;Client=Client;;",
	"BAV2ROPC",
	"",
	"MOZILLA/5.0 (WINDOWS NT 10.0; WIN64; X64) APPLEWEBKIT/537.36 (KHTML, LIKE GECKO) CHROME/131.0.0.0 SAFARI/537.36",
	"Mozilla/5.0 (Linux; Android 13; Pixel 7 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/118.0.5993.92 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
	"Dalvik/2.1.0 (Linux; U; Android 12; SM-A525F Build/SP1A.210812.016)",
	"Mozilla/5.0 (Linux; Android 14; Ķ) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0 Safari/537.36 Kelvin-\u212a/1.0 ſafari",
	"Mozilla/5.0 (Windows NT 10.0) Ünïcödé/1.2.3",
}

// The lazily compiled rules give what uap-go's Parser gives, on the
// samples above and on a slice of the 100,000 user agents uap-go ships
// beside its code (when the module's files can be found).
func TestUARulesMatchUapGo(t *testing.T) {
	samples := append([]string(nil), uaSamples...)
	samples = append(samples, uapGoCorpus(t, 50)...)
	ref, err := uaparser.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		ua, os, dev := ref.ParseUserAgent(s), ref.ParseOs(s), ref.ParseDevice(s)
		want := uaResult{
			name:      ua.Family,
			version:   joinVersion(ua.Major, ua.Minor, ua.Patch),
			osName:    os.Family,
			osVersion: joinVersion(os.Major, os.Minor, os.Patch),
			device:    dev.Family,
		}
		if got := parseUA(s); got != want {
			t.Errorf("%q:\n got %+v\nwant %+v", s, got, want)
		}
	}
	t.Logf("%d user agents", len(samples))
}

// uapGoCorpus returns every step-th line of the uap-go module's "uas"
// file, or nothing when the module's directory is unknown.
func uapGoCorpus(t *testing.T, step int) []string {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/ua-parser/uap-go").Output()
	if err != nil {
		t.Logf("uap-go's directory not found (%v): samples only", err)
		return nil
	}
	f, err := os.Open(filepath.Join(strings.TrimSpace(string(dir)), "uas"))
	if err != nil {
		t.Logf("%v: samples only", err)
		return nil
	}
	defer f.Close()
	var out []string
	lines := bufio.NewScanner(f)
	for i := 0; lines.Scan(); i++ {
		if i%step == 0 {
			out = append(out, lines.Text())
		}
	}
	return out
}

// A user agent compiles only the rules that may match it: a browser on
// Windows compiles a small part of the 1,200 (uap-go compiles them all
// before the first one is parsed, 50 to 80 ms of CPU).
func TestUARulesCompileFew(t *testing.T) {
	rs := loadUARules()
	total := len(rs.agents) + len(rs.systems) + len(rs.devices)
	if n := rs.compiled(); n != 0 {
		t.Fatalf("%d rules compiled before any user agent", n)
	}
	got := rs.parse(uaSamples[0])
	if got.name != "Edge" || got.osName != "Windows" {
		t.Errorf("parsed as %+v", got)
	}
	if n := rs.compiled(); n > total/10 {
		t.Errorf("one user agent compiled %d rules of %d", n, total)
	} else {
		t.Logf("one user agent compiled %d rules of %d", n, total)
	}
}

// A rule's required texts come only from parts every match contains.
func TestRequiredTexts(t *testing.T) {
	for expr, want := range map[string]string{
		`Chrome/(\d+)\.(\d+)`:         "chrome/ .",
		`(?i)(Edg|Edge)/(\d+)`:        "edg /", // factored as Edg(?:e)?
		`(Outlook)-iOS/(\d+)`:         "outlook -ios/",
		`(?:Foo)?Bar(Baz)+(x{2,3})`:   "bar baz x",
		`(Mobile)? Safari/(\d+)?`:     " safari/",
		`Ünï(code)`:                   "code",
		`(Kelvin|Celsius) (\d+)`:      "kelvin|celsius  ",
		`[Kk]elvin|other`:             "elvin|other",
		`(MSIE|Trident)/.*(IEMobile)`: "msie|trident / iemobile",
		`^Mozilla.*(Firefox)/(\d+)?$`: "mozilla firefox /",
	} {
		re := uaRule{expr: expr}
		re.mayMatch("")
		var groups []string
		for _, g := range re.needs {
			groups = append(groups, strings.Join(g, "|"))
		}
		if got := strings.Join(groups, " "); got != want {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}
