package besteffort

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// segmentBytes is the size at which the segment being written is closed
// and handed to the delivery loop; a segment is read whole into memory.
const segmentBytes = 4 << 20

// queue is a directory of append-only segment files, seg-<n>.q, each line
// "dataset<TAB>unix nanoseconds<TAB>document". Documents are JSON without
// raw newlines, so a line is one document; a line torn by a crash does not
// parse and is skipped. Segments are delivered oldest first and deleted
// once delivered, so after a crash a segment may be sent again
// (at-least-once within what was queued).
type queue struct {
	dir string
	max int64

	mu         sync.Mutex
	segs       []segment // closed, oldest first
	active     *os.File
	activeID   uint64
	activeSize int64
	total      int64
	closed     bool
	notify     chan struct{}
}

type segment struct {
	id   uint64
	size int64
}

func (q *queue) path(id uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("seg-%020d.q", id))
}

func openQueue(dir string, max int64) (*queue, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("queue directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read queue directory: %w", err)
	}
	q := &queue{dir: dir, max: max, notify: make(chan struct{}, 1)}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "seg-") || !strings.HasSuffix(name, ".q") {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "seg-"), ".q"), 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("queue segment %s: %w", name, err)
		}
		q.segs = append(q.segs, segment{id: id, size: info.Size()})
		q.total += info.Size()
		q.activeID = max64(q.activeID, id)
	}
	sort.Slice(q.segs, func(i, j int) bool { return q.segs[i].id < q.segs[j].id })
	q.activeID++
	return q, nil
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func (q *queue) bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total
}

// push appends the documents that fit and returns how many it kept.
func (q *queue) push(docs []sink.Doc) (int, error) {
	var buf bytes.Buffer
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, fmt.Errorf("queue closed")
	}
	kept := 0
	total := q.total
	for _, d := range docs {
		n := len(d.Dataset) + 22 + len(d.JSON) + 1
		if total+int64(buf.Len()+n) > q.max {
			continue
		}
		buf.WriteString(d.Dataset)
		buf.WriteByte('\t')
		buf.WriteString(strconv.FormatInt(d.Timestamp.UnixNano(), 10))
		buf.WriteByte('\t')
		buf.Write(d.JSON)
		buf.WriteByte('\n')
		kept++
	}
	if buf.Len() == 0 {
		return 0, nil
	}
	if q.active == nil {
		f, err := os.OpenFile(q.path(q.activeID), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return 0, fmt.Errorf("open queue segment: %w", err)
		}
		q.active = f
	}
	n, err := q.active.Write(buf.Bytes())
	q.activeSize += int64(n)
	q.total += int64(n)
	if err != nil {
		// The segment is closed where the failure left it: a line it cut
		// ends the segment and is skipped, rather than the next write
		// being glued to it (one garbage document sent, the next one
		// lost), and the next push opens a new segment instead of
		// failing on the same descriptor for ever.
		q.rotateLocked()
		return 0, fmt.Errorf("write queue segment: %w", err)
	}
	if q.activeSize >= segmentBytes {
		q.rotateLocked()
	}
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return kept, nil
}

// rotateLocked closes the active segment and queues it for delivery.
func (q *queue) rotateLocked() {
	if q.active == nil {
		return
	}
	q.active.Close()
	q.segs = append(q.segs, segment{id: q.activeID, size: q.activeSize})
	q.active, q.activeSize = nil, 0
	q.activeID++
}

// next returns the oldest segment and its documents, waiting for one; ok
// is false when ctx ends or the queue is closed and empty.
func (q *queue) next(ctx context.Context) (segment, []sink.Doc, bool) {
	for {
		q.mu.Lock()
		if len(q.segs) == 0 && q.activeSize > 0 {
			// Nothing older waits: take what is being written, so that
			// delivery lags by one round trip, not by a segment's fill.
			q.rotateLocked()
		}
		if len(q.segs) > 0 {
			seg := q.segs[0]
			q.mu.Unlock()
			b, err := os.ReadFile(q.path(seg.id))
			if err != nil {
				// Unreadable: nothing can be delivered from it; move on.
				q.remove(seg)
				continue
			}
			return seg, parse(b), true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return segment{}, nil, false
		}
		select {
		case <-q.notify:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return segment{}, nil, false
		}
	}
}

func parse(b []byte) []sink.Doc {
	var docs []sink.Doc
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			break // torn by a crash: never acknowledged as queued
		}
		line := b[:nl]
		b = b[nl+1:]
		ds, rest, ok1 := bytes.Cut(line, []byte{'\t'})
		ts, doc, ok2 := bytes.Cut(rest, []byte{'\t'})
		ns, err := strconv.ParseInt(string(ts), 10, 64)
		if !ok1 || !ok2 || err != nil || len(doc) == 0 {
			continue
		}
		docs = append(docs, sink.Doc{JSON: doc, Dataset: string(ds), Timestamp: time.Unix(0, ns).UTC()})
	}
	return docs
}

// remove deletes a delivered segment.
func (q *queue) remove(seg segment) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.segs) > 0 && q.segs[0].id == seg.id {
		q.segs = q.segs[1:]
		q.total -= seg.size
	}
	if err := os.Remove(q.path(seg.id)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// closeWriter refuses further pushes and lets the loop end once empty.
func (q *queue) closeWriter() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *queue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.active != nil {
		err := q.active.Close()
		q.active = nil
		return err
	}
	return nil
}
