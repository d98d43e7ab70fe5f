package http

import (
	"bytes"
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
// At the limit, a new connection takes the place of the connection idle
// the longest (closing an idle keep-alive costs its client only a new
// connection, and clients expect it), else of the one that has been
// sending its request head the longest, if that is more than
// slowHead: a client sends its headers in milliseconds, so many
// connections that drip theirs (slowloris) no longer keep others out
// for read_header_timeout. When neither exists (every connection is
// being served), it is answered 503 with Retry-After and closed.
type connLimit struct {
	net.Listener
	max     int
	refused func(remote string)

	mu sync.Mutex
	// open holds the connections handed to the server.
	open map[net.Conn]*connInfo
	// lingering counts the refused connections being closed gently.
	lingering int
}

// connInfo is what connLimit knows of one connection.
type connInfo struct {
	// idle: between requests; else reading a request head unless
	// serving (the handler runs, or the answer is being sent).
	idle, serving bool
	since         time.Time // when it entered that state
}

// slowHead is how long a connection may take to send its request head
// before a new connection may take its place at the limit.
const slowHead = time.Second

func newConnLimit(ln net.Listener, max int, refused func(remote string)) *connLimit {
	return &connLimit{Listener: ln, max: max, refused: refused, open: map[net.Conn]*connInfo{}}
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
	now := time.Now()
	if len(l.open) >= l.max {
		var idle, head net.Conn
		var idleSince, headSince time.Time
		for o, ci := range l.open {
			switch {
			case ci.idle:
				if idle == nil || ci.since.Before(idleSince) {
					idle, idleSince = o, ci.since
				}
			case !ci.serving && now.Sub(ci.since) >= slowHead:
				if head == nil || ci.since.Before(headSince) {
					head, headSince = o, ci.since
				}
			}
		}
		victim := idle
		if victim == nil {
			victim = head
		}
		if victim == nil {
			return false
		}
		// Forgotten now: the server's StateClosed for it comes later.
		delete(l.open, victim)
		victim.Close()
	}
	l.open[c] = &connInfo{since: now}
	return true
}

// serving marks c as served: its request head is in and its handler
// runs. It is not closed to make room until it is idle again.
func (l *connLimit) serving(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ci, ok := l.open[c]; ok {
		ci.serving = true
	}
}

// connState is the server's ConnState hook: it follows which connections
// are idle, and forgets closed ones.
func (l *connLimit) connState(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ci, ok := l.open[c]
	if !ok {
		return
	}
	switch st {
	case http.StateIdle:
		*ci = connInfo{idle: true, since: time.Now()}
	case http.StateActive:
		// The first byte of a request head is in.
		*ci = connInfo{since: time.Now()}
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

// refuse answers c 503 and closes it, in the background: it reads the
// request head first (an answer before the request confuses clients:
// Go's reports an unsolicited response and fails), then reads and drops
// a little of the rest, so that closing does not reset the connection
// before the client reads the answer. All within a second.
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
		if !readHead(c) {
			return
		}
		if _, err := io.WriteString(c, refusedAnswer); err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 256<<10))
	}()
}

// readHead reads from c up to the end of a request head, at most 64 KB;
// it reports whether the head ended.
func readHead(c net.Conn) bool {
	buf := make([]byte, 4096)
	var last []byte // the end of what was read, to find a split "\r\n\r\n"
	for total := 0; total < 64<<10; {
		n, err := c.Read(buf)
		total += n
		last = append(last, buf[:n]...)
		if bytes.Contains(last, []byte("\r\n\r\n")) {
			return true
		}
		if len(last) > 3 {
			last = append(last[:0], last[len(last)-3:]...)
		}
		if err != nil {
			return false
		}
	}
	return false
}
