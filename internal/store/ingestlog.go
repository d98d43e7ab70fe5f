package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The ingest log makes Write fast and durable at once. DuckDB commits cost
// about three times more per event in small transactions than in large
// ones, so Write only appends the batch to this log and fsyncs it, then a
// loader moves everything logged into DuckDB in large transactions. A
// segment is deleted once DuckDB has committed all of it; on Open, the
// segments left over (a crash) are loaded again, skipping ids DuckDB has.
//
// Record: u32 length of the rest | u64 id | i64 ts µs | i64 ingested µs |
// document JSON | u32 CRC-32C of everything before it.

const logPrefix, logSuffix = "ingest-", ".log"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type logRecord struct {
	id       uint64
	ts       time.Time
	ingested time.Time
	doc      []byte
}

func appendLogRecord(dst []byte, r logRecord) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(24+len(r.doc)+4))
	dst = binary.LittleEndian.AppendUint64(dst, r.id)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.ts.UnixMicro()))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.ingested.UnixMicro()))
	dst = append(dst, r.doc...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// ingestLog is the current segment plus the closed ones not yet loaded.
type ingestLog struct {
	dir string
	f   *os.File
	seq int
	buf []byte
}

func segmentName(dir string, seq int) string {
	return filepath.Join(dir, fmt.Sprintf("%s%08d%s", logPrefix, seq, logSuffix))
}

// segments lists the log segments in dir in order.
func segments(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("store: read %s: %w", dir, err)
	}
	var seqs []int
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, logPrefix) || !strings.HasSuffix(n, logSuffix) {
			continue
		}
		var seq int
		if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(n, logPrefix), logSuffix), "%d", &seq); err == nil {
			seqs = append(seqs, seq)
		}
	}
	sort.Ints(seqs)
	return seqs, nil
}

// replay calls fn for every intact record of every segment. A torn record
// at the end of a segment (a crash during a Write that therefore never
// returned success) ends that segment.
func replay(dir string, fn func(logRecord) error) (last int, err error) {
	seqs, err := segments(dir)
	if err != nil {
		return 0, err
	}
	for _, seq := range seqs {
		if err := replaySegment(segmentName(dir, seq), fn); err != nil {
			return 0, err
		}
		last = seq
	}
	return last, nil
}

func replaySegment(path string, fn func(logRecord) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: open ingest log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [4]byte
	var body []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil // clean end or torn length
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n < 28 || n > 64<<20 {
			return nil
		}
		if cap(body) < int(n)+4 {
			body = make([]byte, n+4)
		}
		body = body[:n+4]
		copy(body, hdr[:])
		if _, err := io.ReadFull(r, body[4:]); err != nil {
			return nil
		}
		sum := binary.LittleEndian.Uint32(body[len(body)-4:])
		if crc32.Checksum(body[:len(body)-4], crcTable) != sum {
			return nil
		}
		rec := logRecord{
			id:       binary.LittleEndian.Uint64(body[4:]),
			ts:       time.UnixMicro(int64(binary.LittleEndian.Uint64(body[12:]))).UTC(),
			ingested: time.UnixMicro(int64(binary.LittleEndian.Uint64(body[20:]))).UTC(),
			doc:      body[28 : len(body)-4],
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// openLog starts a new segment after seq.
func openLog(dir string, seq int) (*ingestLog, error) {
	l := &ingestLog{dir: dir, seq: seq}
	if err := l.rotate(); err != nil {
		return nil, err
	}
	return l, nil
}

// rotate closes the current segment and starts the next one; it returns
// the sequence number of the closed one.
func (l *ingestLog) rotate() error {
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			return fmt.Errorf("store: close ingest log: %w", err)
		}
	}
	l.seq++
	f, err := os.OpenFile(segmentName(l.dir, l.seq), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("store: create ingest log: %w", err)
	}
	l.f = f
	return syncDir(l.dir)
}

// write appends records and fsyncs them. On error the segment may hold a
// torn tail, which replay ignores; the caller must rotate before writing
// again so that later records are not hidden behind it.
func (l *ingestLog) write(b []byte) error {
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("store: write ingest log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("store: sync ingest log: %w", err)
	}
	return nil
}

// removeBefore deletes the segments before seq: DuckDB holds their records.
func (l *ingestLog) removeBefore(seq int) error {
	seqs, err := segments(l.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range seqs {
		if s < seq {
			if err := os.Remove(segmentName(l.dir, s)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (l *ingestLog) close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}
