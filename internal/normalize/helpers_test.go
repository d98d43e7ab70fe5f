package normalize

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNativeText(t *testing.T) {
	d := &dict{keys: []string{"a", "b"}, vals: []any{int64(1), "x"}}
	tests := []struct {
		in   string
		want any
	}{
		{`["a", "b"]`, []any{"a", "b"}},
		{`{"a": 1, 'b': 'x'}`, d},
		{`[{"x": null}]`, `[{"x": null}]`}, // JSON null is not Python: text kept
		{`[true]`, `[true]`},
		{`None`, nil},
		{`True`, true},
		{`0`, int64(0)},
		{`-12`, int64(-12)},
		{`1.10`, 1.1},
		{`1e3`, 1000.0},
		{`0x1F`, int64(31)},
		{`1_000`, int64(1000)},
		{`0123`, `0123`},
		{`12345678901234567890123`, bigInt("12345678901234567890123")},
		{`"quoted"`, `"quoted"`},             // a string literal: text kept with its quotes
		{`"OUTLOOK.EXE" `, `"OUTLOOK.EXE" `}, // ... and its blanks
		{`1, 0, 0, 1`, `1, 0, 0, 1`},         // a tuple: text kept
		{`{1, 2}`, `{1, 2}`},                 // a set: text kept
		{` 1`, ` 1`},                         // leading blank: Python's parser refuses
		{`4.18.2301.6`, `4.18.2301.6`},
		{`68b329da9893e34099c7d8ad5cb9c940`, `68b329da9893e34099c7d8ad5cb9c940`},
		{`33333333-3333-3333`, `33333333-3333-3333`},
		{`1j`, `1j`},
		{`["C:\\temp\x41\t"]`, []any{`C:\tempA` + "\t"}},
		{`['a' 'b']`, []any{"ab"}},
		{`[r'\n']`, []any{`\n`}},
		{`[1,]`, []any{int64(1)}},
		{`(1)`, int64(1)},
		{`[(1, 2)]`, []any{tuple{int64(1), int64(2)}}},
		{`[1] # comment`, []any{int64(1)}},
		{`[1]` + "\n", []any{int64(1)}},
		{`[`, `[`},
		{`Nonesuch`, `Nonesuch`},
		{`[1 2]`, `[1 2]`},
		{`["a\N{DASH}"]`, `["a\N{DASH}"]`},
		{`-`, `-`},
		{`0b101`, int64(5)},
		{`0o17`, int64(15)},
		{`0XfF`, int64(255)},
		{`2E2`, 200.0},
		{`5d41402abc4b2a76b9719d911017c592`, `5d41402abc4b2a76b9719d911017c592`},
		{`3e5f`, `3e5f`},
		{`12 # a comment`, int64(12)},
		{`TokenElevationTypeDefault`, `TokenElevationTypeDefault`},
		{`Normal`, `Normal`},
		{`TrueColor`, `TrueColor`},
		{`False # a comment`, false},
		{`None `, nil},
	}
	for _, tt := range tests {
		got := native(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("nativeText(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestTimeRoundTrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2023-01-04T14:15:10.4684522Z", "2023-01-04T14:15:10.468452Z"},
		{"2022-09-01T06:56:23.7887846Z", "2022-09-01T06:56:23.788784Z"}, // truncated, not rounded
		{"2022-09-02T13:10:10.7177Z", "2022-09-02T13:10:10.717700Z"},
		{"2024-10-03T11:22:59Z", "2024-10-03T11:22:59Z"},
		{"2024-10-03T11:22:59.0000000Z", "2024-10-03T11:22:59Z"},
		{"2024-10-03T13:22:59.5+02:00", "2024-10-03T11:22:59.500000Z"},
		{"2024-10-03 11:22:59", "2024-10-03T11:22:59Z"},
		{"2024-10-03", "2024-10-03T00:00:00Z"},
		{"2024-02-30T00:00:00Z", ""},
		{"yesterday", ""},
		{"2024-10-03T11:22:59.Z", ""},
	}
	for _, tt := range tests {
		tm, ok := parseTime(tt.in)
		got := ""
		if ok {
			got = formatTime(tm)
		}
		if got != tt.want {
			t.Errorf("parseTime(%q) -> %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := formatTime(epoch(1700000000.5)); got != "2023-11-14T22:13:20.500000Z" {
		t.Errorf("epoch seconds: %s", got)
	}
	if got := formatTime(epoch(1700000000500)); got != "2023-11-14T22:13:20.500000Z" {
		t.Errorf("epoch milliseconds: %s", got)
	}
	_ = time.UTC
}

func TestPathParts(t *testing.T) {
	tests := []struct{ in, base, dir string }{
		{`c:\windows\system32\cmd.exe`, "cmd.exe", `c:\windows\system32`},
		{`C:\cmd.exe`, "cmd.exe", `C:\`},
		{`cmd.exe`, "cmd.exe", ""},
		{`/usr/bin/bash`, "bash", "/usr/bin"},
		{`/bash`, "bash", "/"},
		{`//srv/x`, "x", "//srv"},
		{`\\server\share\dir\f.txt`, "f.txt", `\\server\share\dir`},
		{`c:\program files (x86)\browser.exe`, "browser.exe", `c:\program files (x86)`},
		{`C:/Windows/notepad.exe`, "notepad.exe", `C:/Windows`},
		{`dir/`, "", "dir"},
	}
	for _, tt := range tests {
		if got := basename(tt.in); got != tt.base {
			t.Errorf("basename(%q) = %q, want %q", tt.in, got, tt.base)
		}
		if got := dirname(tt.in); got != tt.dir {
			t.Errorf("dirname(%q) = %q, want %q", tt.in, got, tt.dir)
		}
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"BehaviorInfo":                             "behavior_info",
		"DeviceTvmSoftwareInventory":               "device_tvm_software_inventory",
		"AADSignInEventsBeta":                      "aad_sign_in_events_beta",
		"DeviceTvmSecureConfigurationAssessmentKB": "device_tvm_secure_configuration_assessment_kb",
		"Exposure-Graph Nodes":                     "exposure_graph_nodes",
		"":                                         "unknown",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConvert(t *testing.T) {
	d := &dict{keys: []string{"b", "a"}, vals: []any{true, []any{int64(1), nil}}}
	tests := []struct {
		k      kind
		in     any
		want   any
		wantOK bool
	}{
		{kKeyword, int64(999), "999", true},
		{kKeyword, false, "false", true},
		{kKeyword, 1.0, "1.0", true},
		{kKeyword, 1e16, "1e+16", true},
		{kKeyword, d, `{"a":[1,null],"b":true}`, true},
		{kKeyword, []any{d, "x", nil}, []any{`{"a":[1,null],"b":true}`, "x"}, true},
		{kKeyword, "$", nil, false},
		{kKeyword, "", nil, false},
		{kKeyword, []any{""}, nil, false},
		{kKeyword, nil, nil, false},
		{kLong, "42", int64(42), true},
		{kLong, 4.0, int64(4), true},
		{kLong, "4x", nil, false},
		{kLong, true, nil, false},
		{kBool, "True", true, true},
		{kBool, int64(0), false, true},
		{kBool, "yes", nil, false},
		{kIP, "192.0.2.1", "192.0.2.1", true},
		{kIP, "2001:db8::1", "2001:db8::1", true},
		{kIP, "192.0.2.1 ", nil, false},
		{kIP, "example.com", nil, false},
		{kDate, "2024-10-03T11:22:59.1234567Z", "2024-10-03T11:22:59.123456Z", true},
		{kDate, "never", nil, false},
		{kObject, d, d, true},
		{kObject, "x", nil, false},
		{kNested, []any{d}, []any{d}, true},
		{kNested, []any{"x"}, nil, false},
		{kNumber, "1.5", 1.5, true},
	}
	for _, tt := range tests {
		got, ok := convert(tt.k, tt.in)
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("convert(%d, %#v) = %#v, %v; want %#v, %v", tt.k, tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 0.1: "0.1", 1e16: "1e+16", 1.5e-7: "1.5e-07", 123456789.25: "123456789.25", -0.0001: "-0.0001"} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

// The string writer round-trips every kind of byte through encoding/json,
// and turns invalid UTF-8 into U+FFFD.
func TestAppendString(t *testing.T) {
	inputs := []string{"", "plain", `a"b\c`, "tab\there\nline\r\x01\x1f", "é中😀", "bad\xffutf8\xc3", strings.Repeat(`x"\`, 30000)}
	for _, in := range inputs {
		got := appendString([]byte("x"), in)[1:]
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != strings.ToValidUTF8(in, "\ufffd") {
			t.Errorf("%q -> %s (%v)", in[:min(len(in), 40)], got[:min(len(got), 60)], err)
		}
	}
}

// The word-at-a-time writer must find every byte that needs escaping
// wherever it sits in a word, alone or beside others: every pair of
// special bytes at every pair of places of strings up to 19 bytes long.
func TestAppendStringEveryPlace(t *testing.T) {
	specials := []byte{'"', '\\', '\n', '\r', '\t', 0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xff, ' ', '~'}
	check := func(in string) {
		got := appendString(nil, in)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != validEachByte(in) {
			t.Fatalf("%q -> %s (%v)", in, got, err)
		}
	}
	for n := 0; n < 20; n++ {
		for i := 0; i < n; i++ {
			for _, a := range specials {
				for j := i; j < n; j++ {
					for _, b := range specials {
						s := []byte(strings.Repeat("a", n))
						s[i], s[j] = a, b
						check(string(s))
					}
				}
			}
		}
	}
}

// validEachByte replaces each byte of invalid UTF-8 with U+FFFD, as
// encoding/json does.
// Long strings that mix plain text, quotes, backslashes, control bytes,
// multi-byte letters and invalid bytes at every place of the words the
// writer reads (seeded, so a failure repeats).
func TestAppendStringRandomMixes(t *testing.T) {
	pieces := []string{"a", "plain text ", `"`, `\`, `\"`, "\n", "\t", "\x01", "\x1f", "\x7f", "®", "é", "中", "😀", "\xff", "\xc3", "\xe4\xb8"}
	rng := rand.New(rand.NewPCG(11, 12))
	for range 3000 {
		var b strings.Builder
		for n := rng.IntN(60); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		in := b.String()
		got := appendString([]byte("x"), in)
		if got[0] != 'x' {
			t.Fatalf("%q: the prefix was overwritten", in)
		}
		var back string
		if err := json.Unmarshal(got[1:], &back); err != nil || back != validEachByte(in) {
			t.Fatalf("%q -> %s (%v)", in, got[1:], err)
		}
	}
}

func validEachByte(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // ranging yields U+FFFD for each invalid byte
	}
	return b.String()
}

// The digit-by-digit writer agrees with the time package's layouts on
// every kind of time: whole seconds, microseconds, offsets, years out of
// the four-digit range.
func TestAppendTimeMatchesLayout(t *testing.T) {
	layout := func(tm time.Time) string {
		tm = tm.UTC()
		if tm.Nanosecond()/1000 == 0 {
			return tm.Format("2006-01-02T15:04:05Z")
		}
		return tm.Format("2006-01-02T15:04:05.000000Z")
	}
	times := []time.Time{
		time.Date(2023, 1, 4, 14, 15, 10, 468452200, time.UTC),
		time.Date(2023, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 6, 7, 8, 9, 10, 11000, time.UTC),
		time.Date(2024, 2, 29, 1, 2, 3, 999, time.FixedZone("", -5*3600)),
		time.Unix(0, 0),
	}
	for i := int64(0); i < 2000; i++ {
		times = append(times, time.Unix(i*987654321, i*4567891%1e9))
	}
	for _, tm := range times {
		if got, want := string(appendTime(nil, tm)), layout(tm); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
