package store

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

// oddDocs are documents whose rows are easy to get wrong: where message is
// and what it holds, escapes, duplicates, unicode, odd values in typed
// columns, and JSON fastjson writes back differently.
var oddDocs = []string{
	`{}`,
	`{"message":"only member"}`,
	`{"message":"first","host":{"name":"h"}}`,
	`{"host":{"name":"h"},"message":"last"}`,
	`{"a":1,"message":"middle","b":2}`,
	`{"event":{"dataset":"x"}}`,
	`{"message":{"not":"a string"},"event":{"dataset":"x"}}`,
	`{"message":42,"host":{"name":"h"}}`,
	`{"message":null}`,
	`{"message":["a","b"]}`,
	`{"mess\u0061ge":"escaped key","x":"\u00e9"}`,
	`{"message":"one","message":"two"}`,
	`{"message":1,"message":"two"}`,
	`{"host":{"name":"first"},"host":{"name":"second"}}`,
	`{"host":{"id":"x"},"host":{"name":"second"},"host.name":"flat"}`,
	`{"host":"not an object","host.name":"flat"}`,
	`{"host.name":"flat only","user.name":"u"}`,
	`{"outer":{"message":"nested, not the raw record"},"message":"raw"}`,
	`{"outer":{"message":"nested only"}}`,
	`{"message":"caf\u00e9 \ud83d\ude00 \"quoted\" back\\slash \/ \n tab\t","host":{"name":"h\u00e9"}}`,
	`{"message":"été ☃ 😀","host":{"name":"été"},"user":{"name":"ユーザー"}}`,
	`{"process":{"command_line":"C:\\Windows\\system32\\cmd.exe /c \"dir\"","name":"cmd.exe"}}`,
	`{"process":{"command_line":"a \/ b \u003c c"}}`,
	`{"process":{"command_line":"ctl` + "\x01" + `char"}}`,
	`{"url":{"original":"http://x/?a=1&b=<2>"}}`,
	`{"event":{"category":["process","file"]}}`,
	`{"event":{"category":"network"}}`,
	`{"event":{"category":[]}}`,
	`{"event":{"category":["a\"b"]}}`,
	`{"event":{"category":[1,true,null,{"k":"v"}]}}`,
	`{"destination":{"port":443}}`,
	`{"destination":{"port":"8080"}}`,
	`{"destination":{"port":"http"}}`,
	`{"destination":{"port":4.5}}`,
	`{"destination":{"port":99999999999}}`,
	`{"destination":{"port":-1e3}}`,
	`{"destination":{"port":null},"host":{"name":null}}`,
	`{"host":{"name":{"nested":"object"}},"user":{"name":["list"]},"file":{"name":true}}`,
	`{"@timestamp":"2024-05-06T07:08:09.123456789Z","host":{"name":"t"}}`,
	`{"@timestamp":"not a time"}`,
	`{"@timestamp":12345}`,
	`{"@timestamp":"2024-05-06T07:08:09\u002b02:00"}`,
	`{"microsoft":{"defender":{"alert":{"id":"da123"}}},"email":{"from":{"address":"a@b.c"}}}`,
	`{"file":{"hash":{"sha256":"ab"},"name":"f"},"registry":{"key":"HKLM\\Software"}}`,
	`{"a":[[[[{"b":[1,2,{"c":"d"}]}]]]],"message":"deep"}`,
	`{"n":-0.5e+10,"t":true,"f":false,"z":null,"message":"values"}`,
	` {"message":"leading space"}`,
	`{"message":"trailing space"} `,
	`{"message" : "spaced"}`,
	"{\"message\":\"newline\",\n\"x\":1}",
	`{"message":"unterminated}`,
	`{"message":"x",}`,
	`{"message":"x"`,
	`{"message":"x"}{}`,
	`[1,2]`,
	`"string"`,
	`not json`,
	``,
	`{"x":nan}`,
	`{"x":+1}`,
	`{"x":tru}`,
	`{"mess\"age":"quote in key"}`,
	`{"host":{"na\u006de":"escaped key in a looked-up object"}}`,
	`{"other":{"k\u0065y":"escaped key elsewhere"},"message":"m"}`,
	`{"deep":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`,
}

// TestScannerBuildsTheRowsTheParserBuilt compares every column of the row
// the scanner builds with the row of the fastjson tree (the store's only
// way before the scanner) on the project's sample records, generated
// documents and odd ones. Documents the scanner hands over to the tree must
// still come out the same through build.
func TestScannerBuildsTheRowsTheParserBuilt(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	type doc struct {
		name string
		json []byte
		ts   time.Time
	}
	var docs []doc
	seen := map[string]bool{}
	for i, d := range realDocs(t, 2000) {
		if seen[string(d.JSON)] {
			continue
		}
		seen[string(d.JSON)] = true
		docs = append(docs, doc{fmt.Sprintf("sample %d", i), d.JSON, d.Timestamp})
		docs = append(docs, doc{fmt.Sprintf("sample %d without its time", i), d.JSON, time.Time{}})
	}
	samples := len(docs)
	g := storetest.New(11, t0, span)
	for i := range 300 {
		j, _ := g.Next()
		docs = append(docs, doc{fmt.Sprintf("generated %d", i), j, time.Time{}})
	}
	generated := len(docs) - samples
	for i, s := range oddDocs {
		docs = append(docs, doc{fmt.Sprintf("odd %d %.40q", i, s), []byte(s), time.Time{}})
	}
	// A catalogue that samples none of them, so that the tree is built
	// exactly as for an unsampled document.
	quiet := func() *fieldSet {
		f := newFieldSet()
		f.seen.Store(sampleFirst + 1)
		return f
	}
	var fast, fastSamples, fastGenerated int
	for i, d := range docs {
		var old, cur rowBuilder
		wantRow, wantTS, wantErr := old.buildParsed(quiet(), d.json, d.ts, 42, now, true)
		gotRow, gotTS, gotErr := cur.build(quiet(), d.json, d.ts, 42, now)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("%s: error %v, want %v", d.name, gotErr, wantErr)
			continue
		}
		if !reflect.DeepEqual(gotRow, wantRow) || !gotTS.Equal(wantTS) {
			t.Errorf("%s: row\n%#v (%v)\nwant\n%#v (%v)", d.name, gotRow, gotTS, wantRow, wantTS)
		}
		scanRow, scanTS, ok := cur.scanner.build(d.json, d.ts, 42, now)
		if !ok {
			continue
		}
		if wantErr != nil || !reflect.DeepEqual(scanRow, wantRow) || !scanTS.Equal(wantTS) {
			t.Errorf("%s: scanner row\n%#v (%v)\nwant\n%#v (%v, %v)", d.name, scanRow, scanTS, wantRow, wantTS, wantErr)
		}
		fast++
		switch {
		case i < samples:
			fastSamples++
		case i < samples+generated:
			fastGenerated++
		}
	}
	// The scanner is for the documents the normalizer makes: it must not
	// hand those over to the tree.
	if fastSamples < samples*9/10 || fastGenerated < generated*9/10 {
		t.Errorf("scanner built %d of %d sample and %d of %d generated rows, want 90%%", fastSamples, samples, fastGenerated, generated)
	}
	t.Logf("scanner built %d of %d rows (%d of %d sample, %d of %d generated)", fast, len(docs), fastSamples, samples, fastGenerated, generated)
}

// BenchmarkBuildRow compares building a row through the fastjson tree (the
// baseline, as before the scanner) with build (the scanner's one pass).
func BenchmarkBuildRow(b *testing.B) {
	g := storetest.New(7, t0, span)
	var gen []Doc
	for range 1000 {
		j, _ := g.Next()
		gen = append(gen, Doc{JSON: j})
	}
	sets := []struct {
		name string
		docs []Doc
	}{{"generated", gen}, {"real", realDocs(b, 1000)}}
	now := time.Now()
	for _, set := range sets {
		var n int64
		for _, d := range set.docs {
			n += int64(len(d.JSON))
		}
		for _, way := range []string{"baseline-tree", "build"} {
			b.Run(set.name+"/"+way, func(b *testing.B) {
				f := newFieldSet()
				f.seen.Store(1 << 40) // past the catalogue's first samples
				var rb rowBuilder
				b.SetBytes(n / int64(len(set.docs)))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					d := set.docs[i%len(set.docs)]
					var err error
					if way == "build" {
						_, _, err = rb.build(f, d.JSON, d.Timestamp, 1, now)
					} else {
						_, _, err = rb.buildParsed(f, d.JSON, d.Timestamp, 1, now, true)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
