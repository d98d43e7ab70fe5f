package main

import (
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// countingReader counts the bytes read through it into n (the progress
// bar's) and into read (the current file's), and hashes them when hash is
// set (a file the store keeps a record of).
type countingReader struct {
	r    io.Reader
	n    *atomic.Int64
	read int64
	hash hash.Hash
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	c.read += int64(n)
	if c.hash != nil {
		c.hash.Write(p[:n])
	}
	return n, err
}

// sum is the SHA-256 of the bytes read so far.
func (c *countingReader) sum() string { return hex.EncodeToString(c.hash.Sum(nil)) }

// progress draws "records, records/s, ETA" on stderr: redrawn in place on a
// terminal, one line every 5 s otherwise (logs, CI).
type progress struct {
	w       io.Writer
	total   int64 // bytes of all files; 0 when unknown (stdin)
	records atomic.Int64
	bytes   atomic.Int64
	start   time.Time
	done    chan struct{}
	stopped chan struct{}
	tty     bool
	enabled bool
	// phase is what ingest does after reading (storing, loading into
	// DuckDB, indexing), shown in place of the ETA: these steps take
	// seconds to tens of seconds on a large load, which a bar at
	// "100% ETA 0s" hid.
	phase      atomic.Pointer[string]
	phaseStart atomic.Int64 // unix nanoseconds
	drawMu     sync.Mutex
}

// setPhase shows that ingest has moved on to a finishing step, at once
// (a line of its own when stderr is not a terminal).
func (p *progress) setPhase(name string) {
	p.phase.Store(&name)
	p.phaseStart.Store(time.Now().UnixNano())
	if p.enabled {
		p.draw(false)
	}
}

func newProgress(w io.Writer, total int64, enabled bool) *progress {
	p := &progress{w: w, total: total, start: time.Now(), done: make(chan struct{}), stopped: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	p.enabled = enabled
	if !enabled {
		close(p.stopped)
		return p
	}
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				p.draw(true)
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return p
}

func (p *progress) draw(final bool) {
	p.drawMu.Lock() // the ticker and setPhase draw
	defer p.drawMu.Unlock()
	el := time.Since(p.start).Seconds()
	recs := p.records.Load()
	rate := float64(recs) / max(el, 1e-9)
	line := fmt.Sprintf("%d records  %.0f records/s", recs, rate)
	if p.total > 0 {
		frac := min(1, float64(p.bytes.Load())/float64(p.total))
		const width = 30
		filled := int(frac * width)
		eta := "ETA --"
		if frac > 0 && !final {
			eta = "ETA " + time.Duration(el*(1-frac)/frac*float64(time.Second)).Round(time.Second).String()
		} else if final {
			eta = "done"
		}
		line = fmt.Sprintf("[%s%s] %3.0f%%  %s  %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, line, eta)
	}
	if ph := p.phase.Load(); ph != nil && !final {
		// After reading, the ETA means nothing: say what is being done.
		if i := strings.LastIndex(line, "  ETA "); i >= 0 {
			line = line[:i]
		}
		line += "  " + *ph + " " + time.Since(time.Unix(0, p.phaseStart.Load())).Round(time.Second).String()
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%-100s", line)
		if final {
			fmt.Fprintln(p.w)
		}
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	<-p.stopped
}
