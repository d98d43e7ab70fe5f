package http_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

// padded returns one record followed by spaces, n bytes in all.
func padded(t *testing.T, n int) []byte {
	rec := deliverytest.Records(1, "limit")[0]
	if n < len(rec) {
		t.Fatal("limit below one record")
	}
	return append(append([]byte(nil), rec...), bytes.Repeat([]byte(" "), n-len(rec))...)
}

// A body exactly at max_body_mb, sent with a length or chunked, and a
// gzip body that decodes to exactly max_decoded_mb are taken; one byte
// more is refused with 413.
func TestExactLimits(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name     string
		body     []byte
		encoding string
		chunked  bool
		code     int
	}{
		{name: "body at max_body_mb", body: padded(t, mb), code: 200},
		{name: "body one byte over", body: padded(t, mb+1), code: http.StatusRequestEntityTooLarge},
		{name: "chunked body at max_body_mb", body: padded(t, mb), chunked: true, code: 200},
		{name: "chunked body one byte over", body: padded(t, mb+1), chunked: true, code: http.StatusRequestEntityTooLarge},
		{name: "decoded at max_decoded_mb", body: gzipped(t, padded(t, 2*mb)), encoding: "gzip", code: 200},
		{name: "decoded one byte over", body: gzipped(t, padded(t, 2*mb+1)), encoding: "gzip", code: http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := *httpsrc.DefaultConfig()
			c.MaxBodyMB, c.MaxDecodedMB = 1, 2
			r := startRig(t, c)
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = struct{ io.Reader }{body} // no length: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/ingest", body)
			req.Header.Set("Authorization", "Bearer "+token)
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("answered %d %s, want %d", resp.StatusCode, msg, tc.code)
			}
			want := 0
			if tc.code == 200 {
				want = 1
			}
			if n := len(r.docs(t)); n != want {
				t.Errorf("%d documents, want %d", n, want)
			}
		})
	}
}
