package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
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
			continue
		}
		// Its postings take tens of milliseconds to encode: the indexer
		// writes them, off the loader's path.
		s.words.queuePostings(a)
		s.kickIndexer()
	}
	return backfill
}

func (s *Store) kickIndexer() {
	select {
	case s.indexWake <- struct{}{}:
	default:
	}
}

// indexer writes the postings of saved blocks (postings.go) and builds
// the filters and postings of committed blocks that have none: every block
// of a store made before the word index (or its postings) existed, blocks
// whose first events were written before a restart, and blocks whose
// postings retention removed. Searches read such blocks in full meanwhile.
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

// writeQueuedPostings writes the postings of the blocks saveBlocks queued.
func (s *Store) writeQueuedPostings() {
	for _, a := range s.words.takePostingsQueue() {
		if err := s.words.writePostings(a); err != nil {
			s.log.Warn("store: saving the postings of a block; they will be rebuilt", "err", err)
		}
	}
}

// indexMissing indexes every committed block without a filter or postings
// and returns how many it indexed.
func (s *Store) indexMissing(ctx context.Context) (int, error) {
	s.writeQueuedPostings()
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
		s.writeQueuedPostings() // newer blocks first: they hold memory
		bloom := !s.words.has(b)
		if !bloom && !s.words.needsPostings(b) {
			continue
		}
		select {
		case <-s.stop: // Close: the rest waits for the next Open
			return n, nil
		default:
		}
		if err := s.indexBlock(ctx, b, bloom); err != nil {
			return n, err
		}
		n++
	}
}

// indexBlock builds block b's postings, and its filter when bloom is set,
// from the raw records in DuckDB.
func (s *Store) indexBlock(ctx context.Context, b uint64, bloom bool) error {
	lo, hi := blockIDs(b)
	epoch := s.words.postingsEpoch()
	rows, err := s.db.QueryContext(ctx, `SELECT id, ts, message FROM events WHERE id BETWEEN ?::UBIGINT AND ?::UBIGINT ORDER BY id`, lo, hi)
	if err != nil {
		return fmt.Errorf("store: read block %d for the word index: %w", b, err)
	}
	defer rows.Close()
	a := newBlockAccum(b)
	a.postsEpoch = epoch
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
	if bloom {
		if err := s.words.write(a); err != nil {
			return err
		}
	}
	return s.words.writePostings(a)
}
