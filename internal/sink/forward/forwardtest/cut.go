package forwardtest

import (
	"net/http"
	"net/http/httptest"
)

// CutReply serves h but sends only the first 5 bytes of its answer under
// a Content-Length of 1000: the client sees h's status, then a body cut
// short, as from a connection that drops after a 2xx.
func CutReply(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		w.Write(body[:min(5, len(body))])
	})
}
