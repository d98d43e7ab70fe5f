package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
)

// storeID returns the random identity of this database (created with it),
// which the word index files carry so that files left beside another
// database are never trusted.
func (s *Store) storeID(ctx context.Context) ([16]byte, error) {
	var id [16]byte
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`); err != nil {
		return id, fmt.Errorf("store: create schema: %w", err)
	}
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM store_meta WHERE key = 'id'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := rand.Read(id[:]); err != nil {
			return id, fmt.Errorf("store: make database id: %w", err)
		}
		v = hex.EncodeToString(id[:])
		_, err = s.db.ExecContext(ctx, `INSERT INTO store_meta (key, value) VALUES ('id', ?)`, v)
	}
	if err != nil {
		return id, fmt.Errorf("store: database id: %w", err)
	}
	if b, err := hex.DecodeString(v); err != nil || len(b) != len(id) {
		return id, fmt.Errorf("store: database id %q is not 32 hex digits", v)
	}
	hex.Decode(id[:], []byte(v))
	return id, nil
}

// saveBlocks writes the filters of blocks whose ids were just committed. It
// reports whether some block must be indexed from DuckDB instead (its
// first ids were written before a restart, or its file could not be
// written).
func (s *Store) saveBlocks(blocks []*blockAccum) (backfill bool) {
	for _, a := range blocks {
		if _, hi := blockIDs(a.block); !a.whole || a.next != hi+1 {
			backfill = true
			continue
		}
		if err := s.words.write(a); err != nil {
			s.log.Warn("store: saving the word index of a block; it will be rebuilt", "err", err)
			backfill = true
		}
	}
	return backfill
}

func (s *Store) kickIndexer() {
	select {
	case s.indexWake <- struct{}{}:
	default:
	}
}

// indexer builds the filters of committed blocks that have none: every
// block of a store made before the word index existed, and blocks whose
// first events were written before a restart. Searches read such blocks
// in full meanwhile.
//
// Its queries are never canceled: Close waits for the block being built
// (tens of milliseconds), since a DuckDB query interrupted by a canceled
// context while the store closed could leave the database unable to open
// again in the same process.
func (s *Store) indexer() {
	defer close(s.indexDone)
	ctx := context.Background()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if n, err := s.indexMissing(ctx); err != nil {
			s.log.Warn("store: building the word index", "err", err)
		} else if n > 0 {
			s.log.Info("store: word index built for older events", "blocks", n)
		}
		select {
		case <-s.stop:
			return
		case <-s.indexWake:
		case <-t.C:
		}
	}
}

// indexMissing indexes every committed block without a filter and returns
// how many it indexed.
func (s *Store) indexMissing(ctx context.Context) (int, error) {
	s.mu.Lock()
	loaded := s.loadedID
	s.mu.Unlock()
	var minID sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT min(id) FROM events`).Scan(&minID); err != nil {
		return 0, fmt.Errorf("store: first id: %w", err)
	}
	if !minID.Valid {
		return 0, nil
	}
	n := 0
	for b := blockOf(uint64(minID.Int64)); ; b++ {
		if _, hi := blockIDs(b); hi > loaded {
			return n, nil
		}
		if s.words.has(b) {
			continue
		}
		select {
		case <-s.stop: // Close: the rest waits for the next Open
			return n, nil
		default:
		}
		if err := s.indexBlock(ctx, b); err != nil {
			return n, err
		}
		n++
	}
}

// indexBlock builds block b's filter from the raw records in DuckDB.
func (s *Store) indexBlock(ctx context.Context, b uint64) error {
	lo, hi := blockIDs(b)
	rows, err := s.db.QueryContext(ctx, `SELECT id, ts, message FROM events WHERE id BETWEEN ? AND ?`, lo, hi)
	if err != nil {
		return fmt.Errorf("store: read block %d for the word index: %w", b, err)
	}
	defer rows.Close()
	a := newBlockAccum(b)
	var keys []uint64
	var msg sql.RawBytes
	for rows.Next() {
		var id uint64
		var ts time.Time
		if err := rows.Scan(&id, &ts, &msg); err != nil {
			return fmt.Errorf("store: read block %d for the word index: %w", b, err)
		}
		keys = query.AppendWordKeys(keys[:0], msg)
		a.add(id, ts.UnixMicro(), keys)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read block %d for the word index: %w", b, err)
	}
	return s.words.write(a)
}

// narrow restricts f to the ids whose block filters do not rule out its
// required bare words (query.SQL.Words). The result matches exactly the
// same events; it only lets DuckDB skip the others.
func (s *Store) narrow(f Filter) Filter {
	if len(f.Where.Words) == 0 {
		return f
	}
	clauses := make([][][]uint64, 0, len(f.Where.Words))
	for _, alts := range f.Where.Words {
		keys := make([][]uint64, 0, len(alts))
		for _, w := range alts {
			keys = append(keys, query.WordKeys(w))
		}
		clauses = append(clauses, keys)
	}
	ranges, narrowed, err := s.words.candidates(f.From, f.To, clauses)
	if err != nil {
		s.log.Warn("store: word index unreadable; searching every record", "err", err)
		return f
	}
	if !narrowed {
		return f
	}
	orig := f.Where
	if orig.Where == "" {
		orig.Where = "TRUE"
	}
	if len(ranges) == 0 {
		f.Where = query.SQL{Where: "FALSE"}
		return f
	}
	var b strings.Builder
	args := make([]any, 0, 2*len(ranges)+len(orig.Args))
	b.WriteByte('(')
	for i, r := range ranges {
		if i > 0 {
			b.WriteString(" OR ")
		}
		if r.hi == 0 {
			b.WriteString("id >= ?")
			args = append(args, r.lo)
		} else {
			b.WriteString("id BETWEEN ? AND ?")
			args = append(args, r.lo, r.hi)
		}
	}
	b.WriteString(") AND (" + orig.Where + ")")
	f.Where = query.SQL{Where: b.String(), Args: append(args, orig.Args...)}
	return f
}
