package http

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimit bounds the connections the source keeps open. Without it, a
// client holding connections cheaply (idle keep-alives after one small
// request stay for idle_timeout; connections sending headers for
// read_header_timeout) made the process run out of file descriptors:
// with a limit of 1,024, 1,100 idle connections left /healthz, the other
// sources, the sinks' files and every new client unanswered.
//
// At the limit, a new connection first takes the place of the
// connection idle the longest (closing an idle keep-alive costs its
// client only a new connection, and clients expect it); when none is
// idle, it is answered 503 with Retry-After and closed.
type connLimit struct {
	net.Listener
	max     int
	refused func(remote string)

	mu sync.Mutex
	// open holds the connections handed to the server, with the time
	// each became idle (zero while it is not idle).
	open map[net.Conn]time.Time
	// lingering counts the refused connections being closed gently.
	lingering int
}

func newConnLimit(ln net.Listener, max int, refused func(remote string)) *connLimit {
	return &connLimit{Listener: ln, max: max, refused: refused, open: map[net.Conn]time.Time{}}
}

// Accept returns the next connection within the limit.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.admit(c) {
			return c, nil
		}
		l.refuse(c)
	}
}

// admit counts c in, making room by closing the connection idle the
// longest when at the limit; it reports false when no room can be made.
func (l *connLimit) admit(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.open) >= l.max {
		var oldest net.Conn
		var since time.Time
		for o, idle := range l.open {
			if !idle.IsZero() && (oldest == nil || idle.Before(since)) {
				oldest, since = o, idle
			}
		}
		if oldest == nil {
			return false
		}
		// Forgotten now: the server's StateClosed for it comes later.
		delete(l.open, oldest)
		oldest.Close()
	}
	l.open[c] = time.Time{}
	return true
}

// connState is the server's ConnState hook: it follows which connections
// are idle, and forgets closed ones.
func (l *connLimit) connState(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.open[c]; !ok {
		return
	}
	switch st {
	case http.StateIdle:
		l.open[c] = time.Now()
	case http.StateActive, http.StateNew:
		l.open[c] = time.Time{}
	case http.StateClosed, http.StateHijacked:
		delete(l.open, c)
	}
}

// refusedAnswer is what a connection past the limit gets.
var refusedAnswer = func() string {
	body := `{"status":"Service Unavailable","message":"too many open connections, retry later"}` + "\n"
	return fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nConnection: close\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", retryAfter, len(body), body)
}()

// maxLingering bounds the refused connections closed gently at once;
// past it they are closed at once.
const maxLingering = 64

// refuse answers c 503 and closes it. The request the client sent is
// read and dropped for a moment first (in the background), so that
// closing does not reset the connection before the client reads the
// answer.
func (l *connLimit) refuse(c net.Conn) {
	l.refused(c.RemoteAddr().String())
	l.mu.Lock()
	linger := l.lingering < maxLingering
	if linger {
		l.lingering++
	}
	l.mu.Unlock()
	if !linger {
		c.Close()
		return
	}
	go func() {
		defer func() {
			l.mu.Lock()
			l.lingering--
			l.mu.Unlock()
		}()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(c, refusedAnswer); err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 256<<10))
	}()
}
