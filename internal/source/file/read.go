package file

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/pipeline"
)

// readOnce reads the file currently at path from its saved position.
// reopen is true when, while following, the file was replaced or
// truncated and must be read again from the top.
func (s *Source) readOnce(ctx context.Context, path string, out pipeline.Emitter, inflight *sync.WaitGroup) (reopen bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("file source %s: %w", s.name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("file source %s: %w", s.name, err)
	}
	dev, ino := fileID(fi)
	head := make([]byte, headBytes)
	n, _ := f.ReadAt(head, 0) // a short read is a short file
	head = head[:n]
	var skip, idx int64
	var resume *resumePos
	s.mu.Lock()
	if p, ok := s.state[path]; ok && p.Dev == dev && p.Ino == ino {
		skip, resume = p.Records, p.Resume
		if why := p.otherContent(fi.Size(), head); why != "" {
			// Seeking to the saved offset would skip what it holds now.
			s.log.Warn("file is not the one its saved position is for; reading it from the start",
				"path", path, "why", why)
			skip, resume = 0, nil
			delete(s.state, path)
			s.dirty = true
		}
	}
	reads := s.reads[path]
	s.mu.Unlock()
	if skip > 0 {
		s.log.Info("resuming file", "path", path, "delivered_records", skip)
	}
	start := envelope.Position{Line: 1}
	if resume != nil {
		// Resume at the byte offset: what comes after it is read as it
		// is now, even if the file's end was read differently before.
		if _, err := f.Seek(resume.Offset, io.SeekStart); err != nil {
			return false, fmt.Errorf("file source %s: %w", s.name, err)
		}
		start = envelope.Position{Offset: resume.Offset, Line: resume.Line, MidLine: resume.MidLine}
		idx = skip - resume.Skip
	}

	b := &batcher{s: s, path: path, dev: dev, ino: ino, reads: reads, out: out, inflight: inflight,
		headLen: len(head), headCRC: crc32.ChecksumIEEE(head)}
	var r io.Reader = f
	var fr *followReader
	if s.cfg.Follow {
		fr = &followReader{ctx: ctx, f: f, path: path, poll: s.cfg.PollInterval, ino: ino, pos: start.Offset,
			onIdle: func() { b.flush(ctx) }, timeout: s.cfg.IncompleteTimeout, now: s.now}
		r = fr
	}
	rd := envelope.NewReaderAt(r, start)
	if fr != nil {
		fr.partial = rd.Partial
	}
	for {
		rec, err := rd.Next()
		if ctx.Err() != nil {
			// A record cut short by the stop is not trusted; it is read
			// again on restart because it was never acknowledged.
			return false, nil
		}
		if err == io.EOF {
			break
		}
		var bad *envelope.Error
		if err != nil && !errors.As(err, &bad) {
			b.flush(ctx)
			return false, fmt.Errorf("file source %s: read %s: %w", s.name, path, err)
		}
		if bad != nil && fr != nil && fr.timedOut {
			fr.timedOut = false
			s.log.Warn("incomplete input at the end of a followed file: the writer added nothing for incomplete_timeout; dead-lettering it",
				"path", path, "line", bad.Line, "bytes", len(bad.Raw), "incomplete_timeout", s.cfg.IncompleteTimeout)
		}
		idx++
		if idx <= skip {
			continue
		}
		msg := pipeline.Message{Origin: pipeline.Origin{
			Source: s.name, Type: "file", Stream: path, Partition: path,
			Offset: idx - 1, SequenceNumber: -1,
		}}
		if bad != nil {
			msg.Body = b.keep(bad.Raw)
			msg.DecodeError = bad.Error()
		} else {
			msg.Body = b.keep(rec.Bytes)
			msg.Single = true
		}
		p := rd.Position()
		b.add(msg, idx, resumePos{Offset: p.Offset, Line: p.Line, MidLine: p.MidLine, Skip: int64(p.Items)})
		if len(b.msgs) >= s.cfg.BatchRecords {
			if err := b.flush(ctx); err != nil {
				return false, nil
			}
		}
	}
	if err := b.flush(ctx); err != nil {
		return false, nil
	}
	return fr != nil && fr.replaced, nil
}

// batcher collects messages of one file into batches whose bodies share
// one buffer, so a batch costs a few allocations, not one per record.
type batcher struct {
	s        *Source
	path     string
	dev, ino uint64
	reads    int // Source.reads of path when this read began
	// headLen and headCRC fingerprint the file's first bytes.
	headLen  int
	headCRC  uint32
	out      pipeline.Emitter
	inflight *sync.WaitGroup
	arena    []byte
	msgs     []pipeline.Message
	last     int64
	lastPos  resumePos
}

func (b *batcher) keep(p []byte) []byte {
	if b.arena == nil {
		b.arena = make([]byte, 0, 256<<10)
	}
	if len(b.arena)+len(p) > cap(b.arena) {
		// Earlier messages keep pointing at the old buffer.
		b.arena = make([]byte, 0, max(256<<10, len(p)))
	}
	start := len(b.arena)
	b.arena = append(b.arena, p...)
	return b.arena[start:len(b.arena):len(b.arena)]
}

func (b *batcher) add(m pipeline.Message, idx int64, pos resumePos) {
	b.msgs = append(b.msgs, m)
	b.last, b.lastPos = idx, pos
}

// flush emits the pending messages; on acknowledgement the file's
// delivered position moves to the batch's last input.
func (b *batcher) flush(ctx context.Context) error {
	if len(b.msgs) == 0 {
		return nil
	}
	s, end, pos := b.s, b.last, b.lastPos
	batch := &pipeline.Batch{Messages: b.msgs, Ack: func(err error) {
		defer b.inflight.Done()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.reads[b.path] != b.reads {
			// Read before the file was read again from the top: its
			// position is not the file's any more.
			s.mu.Unlock()
			return
		}
		if p := s.state[b.path]; p.Dev != b.dev || p.Ino != b.ino || p.Records < end {
			s.state[b.path] = filePos{Dev: b.dev, Ino: b.ino, Records: end, Resume: &pos, HeadLen: b.headLen, HeadCRC: b.headCRC}
			s.dirty = true
		}
		s.mu.Unlock()
		s.saver.Changed()
	}}
	b.msgs, b.arena = nil, nil
	b.inflight.Add(1)
	if err := b.out.Emit(ctx, batch); err != nil {
		b.inflight.Done()
		return err
	}
	return nil
}

// followReader reads a growing file: at its end it waits for more data
// instead of returning io.EOF, until ctx ends or the file at path is
// replaced (rotation) or truncated. While the reader on top of it is in
// the middle of a value (partial), it waits at most timeout without new
// data, then returns io.EOF once (timedOut) so that the incomplete value
// is dead-lettered instead of holding back the file in silence.
type followReader struct {
	ctx      context.Context
	f        *os.File
	path     string
	poll     time.Duration
	ino      uint64
	pos      int64
	onIdle   func()
	replaced bool

	partial   func() bool
	timeout   time.Duration
	now       func() time.Time
	waitSince time.Time // when the wait inside a value began; zero: not waiting
	timedOut  bool
}

func (r *followReader) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		r.pos += int64(n)
		if n > 0 {
			r.waitSince = time.Time{}
			return n, nil
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		// At the end for now: deliver what is pending, then wait.
		r.onIdle()
		if fi, err := os.Stat(r.path); err == nil {
			if _, ino := fileID(fi); ino != r.ino || fi.Size() < r.pos {
				r.replaced = true
				return 0, io.EOF
			}
		}
		now := r.now()
		if r.partial != nil && r.partial() {
			if r.waitSince.IsZero() {
				r.waitSince = now
			} else if now.Sub(r.waitSince) >= r.timeout {
				r.waitSince = time.Time{}
				r.timedOut = true
				return 0, io.EOF
			}
		} else {
			r.waitSince = time.Time{}
		}
		t := time.NewTimer(r.poll)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return 0, io.EOF
		case <-t.C:
		}
	}
}

// headBytes is how much of a file's start fingerprints it in its saved
// position: appending leaves it as it is; another file does not.
const headBytes = 1024

// otherContent says why the file at the position's path, with that
// size and first bytes, is not the content the position was saved for,
// or "". The inode alone does not tell: a file rewritten in place keeps
// it, and a file deleted and created again while the source was stopped
// often gets the same number.
func (p filePos) otherContent(size int64, head []byte) string {
	if p.Resume != nil && size < p.Resume.Offset {
		return "shorter than its saved offset (truncated)"
	}
	if p.HeadLen > 0 && (len(head) < p.HeadLen || crc32.ChecksumIEEE(head[:p.HeadLen]) != p.HeadCRC) {
		return "its first bytes changed (rewritten, or another file with the same inode number)"
	}
	return ""
}
