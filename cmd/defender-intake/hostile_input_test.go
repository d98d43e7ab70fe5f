package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/envelope/envelopetest"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
)

// hostileMix is a seeded input of Defender records in every shape with
// lines cut short, junk lines and invalid UTF-8 between them, and the ids
// (host.name) of the valid records in input order.
func hostileMix(t *testing.T, seed uint64) (envelopetest.Mix, []string) {
	rng := rand.New(rand.NewPCG(seed, 11))
	m := envelopetest.NewMix(rng, deliverytest.Records(2+rng.IntN(12), fmt.Sprint(seed)))
	ids := make([]string, len(m.Records))
	for i, r := range m.Records {
		var rec struct {
			Properties struct{ DeviceName string }
		}
		if err := json.Unmarshal(r, &rec); err != nil {
			t.Fatalf("seed %d: record %q: %v", seed, r, err)
		}
		ids[i] = rec.Properties.DeviceName
	}
	return m, ids
}

// hostIDs returns the host.name of each document, in order.
func hostIDs(t *testing.T, docs [][]byte) []string {
	var ids []string
	for _, d := range docs {
		var doc struct {
			Host struct{ Name string }
		}
		if err := json.Unmarshal(d, &doc); err != nil {
			t.Fatalf("document %q: %v", d, err)
		}
		ids = append(ids, doc.Host.Name)
	}
	return ids
}

// deadRaws returns the raw bytes of each entry of a dead-letter file.
func deadRaws(t *testing.T, path string) [][]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var raws [][]byte
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var e struct {
			Raw       *string `json:"raw"`
			RawBase64 string  `json:"raw_base64"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("dead letter %q: %v", line, err)
		}
		if e.Raw != nil {
			raws = append(raws, []byte(*e.Raw))
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(e.RawBase64)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	return raws
}

func checkDead(t *testing.T, seed uint64, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("seed %d: %d dead letters, want %d:\n%q\nwant\n%q", seed, len(got), len(want), got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("seed %d: dead letter %d is %q, want the line %q", seed, i, got[i], want[i])
		}
	}
}

// Through `normalize`, `ingest` and `run` with a file source, for seeded
// hostile mixes: every valid record comes out exactly once (in order where
// the output has one), every bad line is in the dead-letter file byte for
// byte, and the exit status is 1.
func TestHostileInputThroughCommands(t *testing.T) {
	type command struct {
		name  string
		mixes int
		run   func(t *testing.T, seed uint64, dir, in, dead string) (code int, ids []string, out string)
	}
	commands := []command{
		{"normalize", 400, func(t *testing.T, _ uint64, _, in, dead string) (int, []string, string) {
			var out, errb bytes.Buffer
			code := dispatch([]string{"normalize", "--dead-letter", dead, in}, nil, &out, &errb)
			docs := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
			if out.Len() == 0 {
				docs = nil
			}
			return code, hostIDs(t, docs), errb.String()
		}},
		{"ingest", 12, func(t *testing.T, _ uint64, dir, in, dead string) (int, []string, string) {
			data := filepath.Join(dir, "data")
			var out, errb bytes.Buffer
			code := dispatch([]string{"ingest", "--quiet", "--data", data, "--dead-letter", dead, in}, nil, &out, &errb)
			// The store keeps no input order: ids are compared as a set.
			seen, _ := storedRecords(t, data)
			var ids []string
			for id, n := range seen {
				for range n {
					ids = append(ids, id)
				}
			}
			return code, ids, out.String() + errb.String()
		}},
		{"run", 40, func(t *testing.T, _ uint64, dir, in, dead string) (int, []string, string) {
			sinkPath := filepath.Join(dir, "out.ndjson")
			cfg := filepath.Join(dir, "config.yaml")
			// Small batches, so that a mix spans several; one worker, so
			// that they are written in input order.
			y := fmt.Sprintf("server: {listen: \"\"}\npipeline: {workers: 1}\ndead_letter: {path: %q}\nsources:\n  - {name: files, type: file, paths: [%q], batch_records: 5}\nsinks:\n  - {name: out, type: file, path: %q}\n", dead, in, sinkPath)
			if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := dispatch([]string{"run", "--config", cfg}, nil, &out, &errb)
			var docs [][]byte
			if _, err := os.Stat(sinkPath); err == nil {
				docs = deliverytest.ReadNDJSON(t, sinkPath)
			}
			return code, hostIDs(t, docs), errb.String()
		}},
	}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			mixes := c.mixes
			if testing.Short() {
				mixes = max(mixes/10, 3)
			}
			for seed := range uint64(mixes) {
				m, want := hostileMix(t, seed)
				dir := t.TempDir()
				in, dead := filepath.Join(dir, "in.ndjson"), filepath.Join(dir, "dead.ndjson")
				if err := os.WriteFile(in, m.Input, 0o644); err != nil {
					t.Fatal(err)
				}
				code, got, out := c.run(t, seed, dir, in, dead)
				if code != 1 {
					t.Fatalf("seed %d: exit %d, want 1:\n%s", seed, code, out)
				}
				if c.name == "ingest" {
					sortStrings(got)
					want = append([]string(nil), want...)
					sortStrings(want)
				}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("seed %d: records out\n%v\nwant\n%v\ninput:\n%s\n%s", seed, got, want, m.Input, out)
				}
				checkDead(t, seed, deadRaws(t, dead), m.Bad)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
