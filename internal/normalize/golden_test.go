package normalize_test

// Golden-file tests: every testdata/<Table>/<case>.json holds one raw
// Defender streaming record written by hand, and <case>.ecs.json beside
// it the ECS document the normalizer must produce for it.
//
//	go test ./internal/normalize -run Golden -update
//
// rewrites the .ecs.json files from the current output. A rewritten file is
// a claim about the mapping: read the diff before committing it.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/normalize"
)

var update = flag.Bool("update", false, "rewrite testdata/**/*.ecs.json from the normalizer's output")

// goldenNow is the clock of the golden tests: only records without any
// usable time fall back to it, and their expected @timestamp says so.
var goldenNow = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// edgeDir holds cases that belong to no table (unknown tables, broken
// records); its records may have any category or none.
const edgeDir = "_edge"

const expectedSuffix = ".ecs.json"

// goldenCase is one fixture: the raw record and its expected document.
type goldenCase struct {
	dir      string // table name, or edgeDir
	name     string // file name without extension
	input    string // path of the raw record
	expected string // path of the expected document
}

func (c goldenCase) String() string { return c.dir + "/" + c.name }

// loadGoldenCases lists the fixtures under testdata, failing on files that
// do not pair up, so a stray or orphaned file cannot go unnoticed.
func loadGoldenCases(t *testing.T) []goldenCase {
	t.Helper()
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	var cases []goldenCase
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join("testdata", d.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("read %s: %v", dir, err)
		}
		inputs := map[string]bool{}
		for _, f := range files {
			name := f.Name()
			if f.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasSuffix(name, expectedSuffix) {
				continue
			}
			inputs[strings.TrimSuffix(name, ".json")] = true
		}
		for _, f := range files {
			name := f.Name()
			if !strings.HasSuffix(name, expectedSuffix) {
				continue
			}
			if base := strings.TrimSuffix(name, expectedSuffix); !inputs[base] && !*update {
				t.Errorf("%s: expected document without a record %s.json", filepath.Join(dir, name), base)
			}
		}
		for name := range inputs {
			cases = append(cases, goldenCase{
				dir:      d.Name(),
				name:     name,
				input:    filepath.Join(dir, name+".json"),
				expected: filepath.Join(dir, name+expectedSuffix),
			})
		}
	}
	slices.SortFunc(cases, func(a, b goldenCase) int { return strings.Compare(a.String(), b.String()) })
	return cases
}

func TestGolden(t *testing.T) {
	cases := loadGoldenCases(t)
	if len(cases) == 0 {
		t.Fatal("no golden cases under testdata")
	}
	// One Normalizer for every case, in order, as a pipeline worker uses
	// it: state leaking from one record into the next shows up as a
	// difference with the output of a fresh Normalizer.
	shared := normalize.New(normalize.Options{Now: func() time.Time { return goldenNow }})
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			raw, err := os.ReadFile(c.input)
			if err != nil {
				t.Fatal(err)
			}
			// Fixtures are pretty-printed for people; the stream carries
			// compact records, and message must hold one of those.
			var record bytes.Buffer
			if err := json.Compact(&record, raw); err != nil {
				t.Fatalf("%s is not valid JSON: %v", c.input, err)
			}
			checkCategory(t, c, record.Bytes())

			doc, meta, err := shared.Append(nil, record.Bytes())
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			fresh := normalize.New(normalize.Options{Now: func() time.Time { return goldenNow }})
			again, _, err := fresh.Append([]byte("prefix"), record.Bytes())
			if err != nil {
				t.Fatalf("Append with a fresh Normalizer: %v", err)
			}
			if !bytes.Equal(again, append([]byte("prefix"), doc...)) {
				t.Errorf("a reused Normalizer and a fresh one disagree (or dst was not appended to):\nreused: %s\nfresh:  %s", doc, again)
			}
			got, err := canonical(doc)
			if err != nil {
				t.Fatalf("Append produced invalid JSON: %v\n%s", err, doc)
			}
			checkMeta(t, got, meta, record.Bytes())

			if *update {
				if err := os.WriteFile(c.expected, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantRaw, err := os.ReadFile(c.expected)
			if err != nil {
				t.Fatalf("%v (run with -update to create it, then read it)", err)
			}
			want, err := canonical(wantRaw)
			if err != nil {
				t.Fatalf("%s: %v", c.expected, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the normalizer's output (- expected, + got):\n%s", c.expected, diffDocs(want, got))
			}
		})
	}
}

// TestGoldenCoversEveryTable makes a new table ship with a golden case,
// and catches a case directory whose name is not a table.
func TestGoldenCoversEveryTable(t *testing.T) {
	have := map[string]int{}
	for _, c := range loadGoldenCases(t) {
		have[c.dir]++
	}
	tables := normalize.Tables()
	slices.Sort(tables)
	for _, table := range tables {
		if have[table] == 0 {
			t.Errorf("table %s has no golden case: add testdata/%s/<case>.json", table, table)
		}
	}
	for dir := range have {
		if dir != edgeDir && !slices.Contains(tables, dir) {
			t.Errorf("testdata/%s is not a table known to normalize.Tables()", dir)
		}
	}
	if have[edgeDir] == 0 {
		t.Errorf("no edge cases under testdata/%s", edgeDir)
	}
}

// checkCategory keeps each record in the directory of its table.
func checkCategory(t *testing.T, c goldenCase, record []byte) {
	t.Helper()
	if c.dir == edgeDir {
		return
	}
	var head struct {
		Category string `json:"category"`
	}
	if err := json.Unmarshal(record, &head); err != nil {
		t.Fatalf("%s: %v", c.input, err)
	}
	if want := "AdvancedHunting-" + c.dir; head.Category != want {
		t.Errorf("%s: category is %q, want %q (its directory)", c.input, head.Category, want)
	}
}

// checkMeta compares what Append returns beside the document with the
// document itself: callers route and index on Meta without reparsing.
func checkMeta(t *testing.T, canon []byte, meta normalize.Meta, record []byte) {
	t.Helper()
	var doc struct {
		Timestamp string `json:"@timestamp"`
		Message   string `json:"message"`
		Event     struct {
			Dataset string `json:"dataset"`
		} `json:"event"`
	}
	if err := json.Unmarshal(canon, &doc); err != nil {
		t.Fatal(err)
	}
	if meta.Dataset != doc.Event.Dataset || meta.Dataset == "" {
		t.Errorf("Meta.Dataset = %q, document's event.dataset = %q", meta.Dataset, doc.Event.Dataset)
	}
	ts, err := time.Parse(time.RFC3339Nano, doc.Timestamp)
	if err != nil {
		t.Errorf("@timestamp %q: %v", doc.Timestamp, err)
	} else if !ts.Equal(meta.Timestamp) {
		t.Errorf("Meta.Timestamp = %s, document's @timestamp = %s", meta.Timestamp.Format(time.RFC3339Nano), doc.Timestamp)
	}
	var head struct {
		Category any `json:"category"`
	}
	_ = json.Unmarshal(record, &head)
	wantCategory, _ := head.Category.(string)
	if meta.Category != wantCategory {
		t.Errorf("Meta.Category = %q, record's category = %q", meta.Category, wantCategory)
	}
	if doc.Message != string(record) {
		t.Errorf("message is not the raw record:\n got: %s\nwant: %s", doc.Message, record)
	}
}

// canonical re-encodes a JSON document pretty-printed with sorted keys,
// numbers kept as written and no HTML escaping, so that files are stable
// and readable.
func canonical(doc []byte) ([]byte, error) {
	v, err := decode(doc)
	if err != nil {
		return nil, err
	}
	return encode(v, "  "), nil
}

// encode writes a decoded document as JSON without HTML escaping (which
// would turn "<" and ">" of message ids into \u003c and \u003e).
func encode(v any, indent string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	_ = enc.Encode(v) // values from json.Decoder always encode
	return b.Bytes()
}

func decode(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// diffDocs lists the dotted keys whose values differ between two
// documents, one line per key.
func diffDocs(want, got []byte) string {
	w, errW := flatten(want)
	g, errG := flatten(got)
	if errW != nil || errG != nil {
		return fmt.Sprintf("cannot compare: %v %v", errW, errG)
	}
	keys := slices.Concat(slices.Collect(maps.Keys(w)), slices.Collect(maps.Keys(g)))
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range slices.Compact(keys) {
		wv, inW := w[k]
		gv, inG := g[k]
		if inW && inG && wv == gv {
			continue
		}
		if inW {
			fmt.Fprintf(&b, "- %s: %s\n", k, wv)
		}
		if inG {
			fmt.Fprintf(&b, "+ %s: %s\n", k, gv)
		}
	}
	if b.Len() == 0 {
		// Same leaves under different nesting ({"a.b":1} and {"a":{"b":1}}).
		return fmt.Sprintf("same dotted keys, different structure:\n- %s\n+ %s", want, got)
	}
	return b.String()
}

// flatten maps each leaf of a document (a scalar or a list) to its compact
// JSON text, by dotted path.
func flatten(doc []byte) (map[string]string, error) {
	v, err := decode(doc)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && (len(m) > 0 || prefix == "") {
			for k, child := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, child)
			}
			return
		}
		out[prefix] = string(bytes.TrimSpace(encode(v, "")))
	}
	walk("", v)
	return out, nil
}

// TestAppendRejectsNonObjects covers the input a golden file cannot hold:
// what is not a JSON object yields ErrNotObject and leaves dst as it was,
// so that the caller can dead-letter the raw bytes.
func TestAppendRejectsNonObjects(t *testing.T) {
	tests := []struct {
		name   string
		record string
	}{
		{"empty", ""},
		{"blank", " \n\t"},
		{"array", `[{"category":"AdvancedHunting-DeviceEvents","properties":{}}]`},
		{"string", `"AdvancedHunting-DeviceEvents"`},
		{"number", `42`},
		{"null", `null`},
		{"true", `true`},
		{"truncated object", `{"time":"2026-11-20T09:14:23Z","properties":{"DeviceName":"ws1"`},
		{"trailing garbage", `{"time":"2026-11-20T09:14:23Z"} x`},
		{"two objects", `{"a":1}{"b":2}`},
		{"single quotes", `{'time':'2026-11-20T09:14:23Z'}`},
	}
	n := normalize.New(normalize.Options{Now: func() time.Time { return goldenNow }})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("kept")
			out, meta, err := n.Append(dst, []byte(tt.record))
			if !errors.Is(err, normalize.ErrNotObject) {
				t.Fatalf("Append(%q) error = %v, want ErrNotObject", tt.record, err)
			}
			if string(out) != "kept" {
				t.Errorf("dst changed to %q", out)
			}
			if meta != (normalize.Meta{}) {
				t.Errorf("Meta = %+v, want zero", meta)
			}
		})
	}
	// The Normalizer is still usable after rejecting input.
	doc, _, err := n.Append(nil, []byte(`{"category":"AdvancedHunting-DeviceEvents","properties":{"Timestamp":"2026-11-20T09:14:23Z","DeviceName":"ws1"}}`))
	if err != nil || !bytes.Contains(doc, []byte(`"dataset":"device_events"`)) {
		t.Errorf("after rejections: %s, %v", doc, err)
	}
}

// TestExampleSample keeps the sample shipped for the README's first command
// working: every line is an Event Hub body or a bare record, every record
// normalizes into a known table, and the story still spans many tables.
func TestExampleSample(t *testing.T) {
	const path = "../../examples/defender-sample.ndjson"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.New(normalize.Options{Now: func() time.Time { return goldenNow }})
	datasets := map[string]int{}
	bodies, bare := 0, 0
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var body struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(line, &body); err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		records := body.Records
		if records == nil {
			records = []json.RawMessage{line}
			bare++
		} else {
			bodies++
		}
		for _, rec := range records {
			_, meta, err := n.Append(nil, rec)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, i+1, err)
			}
			if meta.Dataset == "unknown" || meta.Category == "" {
				t.Errorf("%s:%d: record without a known table: %+v", path, i+1, meta)
			}
			datasets[meta.Dataset]++
		}
	}
	total := 0
	for _, c := range datasets {
		total += c
	}
	if total < 30 || total > 60 || len(datasets) < 15 || bodies < 5 || bare < 3 {
		t.Errorf("sample has %d records of %d datasets in %d Event Hub bodies and %d bare records; want 30-60 records, >= 15 datasets, >= 5 bodies, >= 3 bare records",
			total, len(datasets), bodies, bare)
	}
}
