package http_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func deflated(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rawDeflated(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func lines(parts ...[]byte) []byte { return bytes.Join(parts, []byte("\n")) }

// Every body gets the answer its content deserves, with honest counts;
// whatever is refused is in the dead letters byte for byte, and the good
// records are delivered.
func TestBodies(t *testing.T) {
	recs := deliverytest.Records(3, "body")
	ndjson := lines(recs...)
	bomb := gzipped(t, bytes.Repeat(ndjson, 1+(2<<20)/len(ndjson))) // > 2 MB decoded
	truncated := gzipped(t, ndjson)
	truncated = truncated[:len(truncated)/2]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	member1, member2 := gzipped(t, recs[0]), gzipped(t, lines(recs[1], recs[2]))
	cutMember2 := member2[:len(member2)-5]
	const none = -1
	tests := []struct {
		name     string
		encoding string
		body     []byte
		code     int
		// taken and refused are the counts in the answer (none: absent).
		taken, refused int
		docs           int
		dead           [][]byte // raw bytes of each dead letter, in order
	}{
		{name: "plain NDJSON", body: ndjson, code: 200, taken: 3, refused: 0, docs: 3},
		{name: "gzip", encoding: "gzip", body: gzipped(t, ndjson), code: 200, taken: 3, refused: 0, docs: 3},
		{name: "gzip coding in upper case", encoding: "GZIP", body: gzipped(t, ndjson), code: 200, taken: 3, refused: 0, docs: 3},
		{name: "gzip envelope", encoding: "x-gzip", body: gzipped(t, deliverytest.Envelope(recs)), code: 200, taken: 3, refused: 0, docs: 3},
		{name: "deflate", encoding: "deflate", body: deflated(t, ndjson), code: 200, taken: 3, refused: 0, docs: 3},
		{name: "gzip members", encoding: "gzip", body: cat(member1, member2), code: 200, taken: 3, refused: 0, docs: 3},
		{name: "gzip then a newline", encoding: "gzip", body: cat(gzipped(t, ndjson), []byte("\n")), code: 200, taken: 3, refused: 0, docs: 3},
		{name: "gzip then zero padding", encoding: "gzip", body: cat(gzipped(t, ndjson), make([]byte, 512)), code: 200, taken: 3, refused: 0, docs: 3},
		{name: "gzip then garbage", encoding: "gzip", body: cat(gzipped(t, ndjson), []byte("garbage")), code: 200, taken: 3, refused: 1, docs: 3, dead: [][]byte{[]byte("garbage")}},
		{name: "gzip member then a cut one", encoding: "gzip", body: cat(member1, cutMember2), code: 200, taken: 1, refused: 1, docs: 1, dead: [][]byte{cutMember2}},
		{name: "gzip member then a corrupt header", encoding: "gzip", body: cat(member1, []byte("\x1f\x8bXX")), code: 200, taken: 1, refused: 1, docs: 1, dead: [][]byte{[]byte("\x1f\x8bXX")}},
		{name: "raw deflate (no zlib header)", encoding: "deflate", body: rawDeflated(t, ndjson), code: 200, taken: 3, refused: 0, docs: 3},
		{name: "corrupt deflate", encoding: "deflate", body: []byte("\x78\x9c not deflate"), code: 400, taken: 0, refused: 1, dead: [][]byte{[]byte("\x78\x9c not deflate")}},
		{name: "gzip bomb", encoding: "gzip", body: bomb, code: http.StatusRequestEntityTooLarge, taken: 0, refused: 1, dead: [][]byte{bomb}},
		{name: "not gzip", encoding: "gzip", body: ndjson, code: 400, taken: 0, refused: 1, dead: [][]byte{ndjson}},
		{name: "truncated gzip", encoding: "gzip", body: truncated, code: 400, taken: 0, refused: 1, dead: [][]byte{truncated}},
		{name: "unknown encoding", encoding: "br", body: ndjson, code: http.StatusUnsupportedMediaType, taken: none, refused: none},
		{name: "stacked encodings", encoding: "gzip, gzip", body: gzipped(t, gzipped(t, ndjson)), code: http.StatusUnsupportedMediaType, taken: none, refused: none},
		{name: "not JSON", body: []byte("this is not JSON"), code: 400, taken: 0, refused: 1, dead: [][]byte{[]byte("this is not JSON")}},
		{name: "scalar", body: []byte(`"just a string"`), code: 400, taken: 0, refused: 1, dead: [][]byte{[]byte(`"just a string"`)}},
		{name: "array of scalars", body: []byte(`[1, true]`), code: 400, taken: 0, refused: 2, dead: [][]byte{[]byte("1"), []byte("true")}},
		{name: "invalid UTF-8 in gzip", encoding: "gzip", body: gzipped(t, []byte("\xff\xfe\xfd")), code: 400, taken: 0, refused: 1, dead: [][]byte{[]byte("\xff\xfe\xfd")}},
		{name: "empty", body: nil, code: 200, taken: 0, refused: 0},
		{name: "blank", body: []byte(" \n\t\n"), code: 200, taken: 0, refused: 0},
		{name: "empty gzip", encoding: "gzip", body: nil, code: 200, taken: 0, refused: 0},
		{name: "empty array", body: []byte("[]"), code: 200, taken: 0, refused: 0},
		{name: "good and bad lines", body: lines(recs[0], []byte("garbage"), recs[1], []byte("42"), recs[2]),
			code: 200, taken: 3, refused: 2, docs: 3, dead: [][]byte{[]byte("garbage"), []byte("42")}},
		{name: "gzip good and bad lines", encoding: "gzip", body: gzipped(t, lines(recs[0], []byte("garbage"), recs[1])),
			code: 200, taken: 2, refused: 1, docs: 2, dead: [][]byte{[]byte("garbage")}},
		{name: "envelope with a scalar record", body: []byte(`{"records":[` + string(recs[0]) + `,7,` + string(recs[1]) + `]}`),
			code: 200, taken: 2, refused: 1, docs: 2, dead: [][]byte{[]byte("7")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := *httpsrc.DefaultConfig()
			c.MaxDecodedMB = 1
			r := startRig(t, c)
			h := map[string]string{}
			if tc.encoding != "" {
				h["Content-Encoding"] = tc.encoding
			}
			got := r.post(t, tc.body, h)
			if got.code != tc.code {
				t.Errorf("answered %d %q, want %d", got.code, got.Message, tc.code)
			}
			if n := count(got.Taken); n != tc.taken {
				t.Errorf("answer says %d taken, want %d (%q)", n, tc.taken, got.Message)
			}
			if n := count(got.Refused); n != tc.refused {
				t.Errorf("answer says %d refused, want %d (%q)", n, tc.refused, got.Message)
			}
			if tc.code >= 400 && got.Message == "" {
				t.Error("refusal without a reason")
			}
			if n := len(r.docs(t)); n != tc.docs {
				t.Errorf("%d documents delivered, want %d", n, tc.docs)
			}
			dead := r.deadLetters(t)
			if len(dead) != len(tc.dead) {
				t.Fatalf("%d dead letters, want %d: %v", len(dead), len(tc.dead), dead)
			}
			for i, e := range dead {
				if raw := deadRaw(t, e); !bytes.Equal(raw, tc.dead[i]) {
					t.Errorf("dead letter %d holds %q, want %q", i, short(raw), short(tc.dead[i]))
				}
				if e["type"] != "http" || e["reason"] == "" {
					t.Errorf("dead letter %d: type %v, reason %v", i, e["type"], e["reason"])
				}
			}
		})
	}
}

func count(n *int) int {
	if n == nil {
		return -1
	}
	return *n
}

func deadRaw(t *testing.T, e map[string]any) []byte {
	if s, ok := e["raw"].(string); ok {
		return []byte(s)
	}
	b, err := base64.StdEncoding.DecodeString(e["raw_base64"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func short(b []byte) []byte {
	if len(b) > 80 {
		return append(b[:80:80], "..."...)
	}
	return b
}

// The bearer scheme is matched in any case (RFC 7235); the token is not.
func TestBearerScheme(t *testing.T) {
	r := startRig(t, *httpsrc.DefaultConfig())
	body := deliverytest.Records(1, "auth")[0]
	tests := []struct {
		auth string
		want int
	}{
		{"Bearer " + token, 200},
		{"bearer " + token, 200},
		{"BEARER " + token, 200},
		{"bEaReR " + token, 200},
		{"Bearer  " + token, 200},
		{"Bearer " + "T0KEN", http.StatusUnauthorized},
		{"Bearer " + token + "x", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Basic " + token, http.StatusUnauthorized},
		{"Bearer" + token, http.StatusUnauthorized},
		{token, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.auth, func(t *testing.T) {
			if got := r.post(t, body, map[string]string{"Authorization": tc.auth}); got.code != tc.want {
				t.Errorf("Authorization %q answered %d %q, want %d", tc.auth, got.code, got.Message, tc.want)
			}
		})
	}
}

// Every key of the section decodes strictly from YAML, and Validate
// refuses values that would disable a bound.
func TestConfigKeys(t *testing.T) {
	yml := `
sources:
  - name: push
    type: http
    listen: 127.0.0.1:8514
    path: /ingest
    max_body_mb: 8
    max_decoded_mb: 32
    timeout: 30s
    read_header_timeout: 5s
    body_timeout: 20s
    min_body_rate_kb: 4
    idle_timeout: 1m
    max_concurrent: 4
    max_memory_mb: 128
    max_records: 5000
    max_connections: 64
`
	cfg, err := config.Parse("test.yaml", []byte(yml+"    max_pending: 16\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Sources[0].Section.(*httpsrc.Config)
	if c.MaxDecodedMB != 32 || c.ReadHeaderTimeout.Seconds() != 5 || c.BodyTimeout.Seconds() != 20 || c.MinBodyRateKB != 4 || c.IdleTimeout.Minutes() != 1 || c.MaxPending != 16 || c.MaxMemoryMB != 128 || c.MaxRecords != 5000 || c.MaxConnections != 64 {
		t.Errorf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	for _, bad := range []func(*httpsrc.Config){
		func(c *httpsrc.Config) { c.MaxDecodedMB = 0 },
		func(c *httpsrc.Config) { c.ReadHeaderTimeout = 0 },
		func(c *httpsrc.Config) { c.BodyTimeout = 0 },
		func(c *httpsrc.Config) { c.IdleTimeout = 0 },
		func(c *httpsrc.Config) { c.MaxPending = 0 },
		func(c *httpsrc.Config) { c.MinBodyRateKB = -1 },
		func(c *httpsrc.Config) { c.MaxMemoryMB = 0 },
		func(c *httpsrc.Config) { c.MaxRecords = 0 },
		func(c *httpsrc.Config) { c.MaxConnections = 0 },
	} {
		c := *httpsrc.DefaultConfig()
		bad(&c)
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := config.Parse("test.yaml", []byte(yml+"    max_pendin: 16\n")); err == nil {
		t.Error("unknown key accepted")
	}
}
