package query

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// wholeWordRegexp compiles the pattern the compiler gives DuckDB for a bare
// word, with Go's engine (the same RE2 syntax and case folding).
func wholeWordRegexp(t *testing.T, v string) *regexp.Regexp {
	t.Helper()
	sql, err := compiler().Compile(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`)
	if err != nil {
		t.Fatal(err)
	}
	pattern := sql.Args[len(sql.Args)-1].(string)
	if !strings.HasPrefix(sql.Where, "(") { // no word edges: plain substring
		pattern = regexp.QuoteMeta(v)
	}
	return regexp.MustCompile("(?i)" + pattern)
}

func TestWholeWordMatching(t *testing.T) {
	tests := []struct {
		word string
		text string
		want bool
	}{
		{"mimikatz", `"FileName":"mimikatz.exe"`, true},
		{"mimikatz", `Invoke-Mimikatz -DumpCreds`, true},
		{"mimikatz", `C:\\tools\\MIMIKATZ\\x64`, true},
		{"mimikatz", `mimikatz`, true},
		{"mimikatz", `mimikatz_trunk.zip`, true}, // '_' separates words
		{"mimikatz", `InvokeMimikatz`, false},
		{"mimikatz", `mimikatz2`, false},
		{"mimikatz", "mimi\u212Aatz", true}, // Kelvin sign folds to k
		{"sekurlsa::logonpasswords", `"privilege::debug sekurlsa::logonPasswords exit"`, true},
		{"sekurlsa::logonpasswords", `xsekurlsa::logonpasswords`, false},
		{"203.0.113.7", `"RemoteIP":"203.0.113.7"`, true},
		{"203.0.113.7", `"RemoteIP":"203.0.113.77"`, false},
		{"203.0.113.7", `"RemoteIP":"10.203.0.113.7"`, true}, // '.' separates
		{"100%", `"Share":"100%"`, true},
		{"100%", `"Share":"1100%"`, false},
		{"é", `"Name":"École"`, false}, // é is part of the word école
		{"école", `"Name":"ÉCOLE"`, true},
		{"::", `a::b`, true},
	}
	for _, tt := range tests {
		t.Run(tt.word+" in "+tt.text, func(t *testing.T) {
			if got := wholeWordRegexp(t, tt.word).MatchString(tt.text); got != tt.want {
				t.Fatalf("SQL pattern match = %v, want %v", got, tt.want)
			}
			if tt.want && !hasKeys(tt.text, tt.word) {
				t.Fatalf("the index keys of %q lack those of %q: the index would skip a match", tt.text, tt.word)
			}
		})
	}
}

func hasKeys(text, word string) bool {
	keys := AppendWordKeys(nil, []byte(text))
	for _, k := range WordKeys(word) {
		if !slices.Contains(keys, k) {
			return false
		}
	}
	return true
}

// TestIndexKeysNeverMissAMatch checks the index's promise on random texts:
// whenever the SQL pattern of a bare word matches a text, the text's index
// keys include every key of the word.
func TestIndexKeysNeverMissAMatch(t *testing.T) {
	alphabet := []string{"a", "B", "k", "K", "\u212A", "s", "ſ", "1", "0", ".", "-", ":", " ", "_", "é", "É", `"`, "\\"}
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	cache := map[string]*regexp.Regexp{}
	matches := 0
	for range 20000 {
		text := gen(4 + rng.IntN(20))
		// A word taken from the text itself matches often enough to test.
		r := []rune(text)
		i := rng.IntN(len(r))
		word := string(r[i : i+1+rng.IntN(min(4, len(r)-i))])
		if rng.IntN(3) == 0 {
			word = gen(1 + rng.IntN(3))
		}
		re := cache[word]
		if re == nil {
			re = wholeWordRegexp(t, word)
			cache[word] = re
		}
		if !re.MatchString(text) {
			continue
		}
		matches++
		if !hasKeys(text, word) {
			t.Fatalf("%q matches %q but its index keys lack the word's", word, text)
		}
	}
	if matches < 1000 {
		t.Fatalf("only %d matches: the test proves too little", matches)
	}
}

func TestWordKeys(t *testing.T) {
	k := func(s string) []uint64 { return AppendWordKeys(nil, []byte(s)) }
	tests := []struct {
		name string
		got  []uint64
		want []uint64
	}{
		{"case does not matter", k("MimiKatz"), k("mimikatz")},
		{"separators split words", k("a-b"), k("a.b")},
		// Keys written before PairKeyBit existed, tag bit aside: filter
		// files of older stores stay valid.
		{"one separator makes a pair", k("a.b"), []uint64{0x02c0bdbf481420f8, 0x3e35b21bfb9b6405, 0x746bad96dd0e1b2e | PairKeyBit}},
		{"two separators make none", k("a..b"), append(k("a"), k("b")...)},
		{"no words", k(`":,{}"`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %x, want %x", tt.got, tt.want)
			}
		})
	}
	if got := k("x.y"); got[0]&PairKeyBit != 0 || got[1]&PairKeyBit != 0 || got[2]&PairKeyBit == 0 {
		t.Fatalf("words must have PairKeyBit clear and pairs set: %x", got)
	}
	if WordKeys("::") != nil {
		t.Fatal(`WordKeys("::") must be nil: such a phrase cannot use the index`)
	}
	if got := WordKeys("a a a"); len(got) != 2 { // a, and the pair a+a
		t.Fatalf("WordKeys repeats keys: %x", got)
	}
}

func TestRequiredWords(t *testing.T) {
	tests := []struct {
		q    string
		want [][]string
	}{
		{"mimikatz", [][]string{{"mimikatz"}}},
		{"mimikatz host.name:ws1", [][]string{{"mimikatz"}}},
		{`mimikatz "sekurlsa::x"`, [][]string{{"mimikatz"}, {"sekurlsa::x"}}},
		{"mimikatz OR lsass", [][]string{{"mimikatz", "lsass"}}},
		{"(a b) OR c", [][]string{{"a", "c"}}},
		{"mimikatz OR host.name:ws1", nil},
		{"NOT mimikatz", nil},
		{"mimi*", nil},
		{`"::"`, nil},
		{"host.name:ws1", nil},
		{"message:mimikatz", nil},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			got, err := compiler().Compile(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Words, tt.want) {
				t.Fatalf("Words = %q, want %q", got.Words, tt.want)
			}
		})
	}
}

// BenchmarkAppendWordKeys measures the word index keys of a raw Defender
// record; the baseline is a loop that only classifies the bytes (the least
// any tokenizer does).
func BenchmarkAppendWordKeys(b *testing.B) {
	rec := []byte(`{"time":"2024-01-01T00:00:00.2592Z","tenantId":"11111111-1111-1111-1111-111111111111","operationName":"Publish","category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2024-01-01T00:00:00.2592Z","DeviceName":"ws0172","DeviceId":"00000000000000000000000000000000000000e2","ActionType":"ProcessCreated","FileName":"powershell.exe","ProcessCommandLine":"powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\Users\\Public\\run.ps1","InitiatingProcessFileName":"cmd.exe","AccountName":"carol","AccountDomain":"CONTOSO","SHA256":"4edced8cc8d041d6e005678937fe0bc6a68d89118aa05e70c8820b71859d9422","LocalIP":"10.1.154.226","RemoteIP":"203.0.113.147","RemotePort":53,"RemoteUrl":"https://login.microsoftonline.com/","ReportId":589878}}`)
	b.Run("baseline-classify", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		n := 0
		for b.Loop() {
			for _, c := range rec {
				if wordByte[c] {
					n++
				}
			}
		}
		if n == 0 {
			b.Fatal("no word bytes")
		}
	})
	b.Run("keys", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		var keys []uint64
		for b.Loop() {
			keys = AppendWordKeys(keys[:0], rec)
		}
		b.ReportMetric(float64(len(keys)), "keys")
	})
}

func TestWordsOnly(t *testing.T) {
	c := &Compiler{Catalog: testCatalog{}}
	for q, want := range map[string]bool{
		"certutil":                     true,
		`"certutil"`:                   true,
		"certutil urlcache":            true,
		"certutil OR -bitsadmin":       true,
		"(a OR b) NOT c":               true,
		"":                             false,
		"cert*":                        false,
		"Invoke-Mimikatz":              false, // two words: adjacency matters
		`"203.0.113.7"`:                false,
		"école":                        false, // non-ASCII: folding is the SQL's
		"certutil host.name:ws1":       false,
		"certutil OR message:certutil": false,
		"_exists_:process.pid":         false,
	} {
		sql, err := c.Compile(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if got := sql.WordsOnly != nil; got != want {
			t.Errorf("%q: WordsOnly set = %v, want %v", q, got, want)
		}
	}
}

func TestSplitWordsFromTheRest(t *testing.T) {
	c := &Compiler{Catalog: testCatalog{}}
	for q, want := range map[string]string{
		"certutil host.name:ws1":                    "certutil | (host_name ILIKE ? ESCAPE '\\')",
		"certutil -urlcache destination.port:443 y": "certutil -urlcache y | (destination_port = ?)",
		"certutil":                  "",
		"certutil OR host.name:ws1": "",
		"host.name:ws1":             "",
		`"a b" host.name:ws1`:       "",
	} {
		sql, err := c.Compile(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		got := ""
		if sql.Split != nil {
			got = wordsString(sql.Split.Words) + " | " + sql.Split.Rest.Where
		}
		if got != want {
			t.Errorf("%q: split %q, want %q", q, got, want)
		}
	}
}

func wordsString(n Node) string {
	switch n := n.(type) {
	case Match:
		return n.Value
	case Not:
		return "-" + wordsString(n.Node)
	case And:
		var parts []string
		for _, x := range n.Nodes {
			parts = append(parts, wordsString(x))
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprintf("%T", n)
}
