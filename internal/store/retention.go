package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Retain deletes events older than MaxAge and, while the database is larger
// than MaxBytes, the oldest events. DuckDB reuses the freed blocks for new
// events, so the file stops growing rather than shrinking. It returns the
// number of events deleted.
func (s *Store) Retain(ctx context.Context, now time.Time) (int64, error) {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	var deleted int64
	if s.cfg.MaxAge > 0 {
		cutoff := now.Add(-s.cfg.MaxAge).UTC()
		// Postings list rows as written: those of blocks losing rows go
		// first (a search then reads those blocks with SQL).
		// +1: a cutoff between two microseconds may round either way.
		if err := s.words.dropPostings(cutoff.UnixMicro() + 1); err != nil {
			return 0, err
		}
		res, err := s.conn.ExecContext(ctx, "DELETE FROM events WHERE ts < ?", cutoff)
		if err != nil {
			return 0, fmt.Errorf("store: delete by age: %w", err)
		}
		n, _ := res.RowsAffected()
		deleted += n
		s.dropIndexOfDeleted(ctx, n)
	}
	if s.cfg.MaxBytes > 0 {
		prev := int64(-1)
		for range 5 {
			used, err := s.usedBytes(ctx)
			if err != nil {
				return deleted, err
			}
			if used <= s.cfg.MaxBytes {
				break
			}
			// DuckDB frees a row group's blocks once most of its rows are
			// deleted; when a round freed nothing, deleting more would
			// only throw events away, so wait for the next run.
			if prev >= 0 && used >= prev {
				s.log.Warn("store: over max_bytes but deletions freed no space yet", "used", used, "max", s.cfg.MaxBytes)
				break
			}
			prev = used
			// Delete the oldest share of events that brings the store to
			// 90% of the limit, assuming bytes spread evenly over events.
			frac := float64(used-s.cfg.MaxBytes*9/10) / float64(used)
			var cutoff *time.Time
			if err := s.conn.QueryRowContext(ctx, "SELECT quantile_disc(ts, ?) FROM events", frac).Scan(&cutoff); err != nil {
				return deleted, fmt.Errorf("store: size cutoff: %w", err)
			}
			if cutoff == nil {
				break
			}
			if err := s.words.dropPostings(cutoff.UnixMicro() + 1); err != nil {
				return deleted, err
			}
			res, err := s.conn.ExecContext(ctx, "DELETE FROM events WHERE ts <= ?", *cutoff)
			if err != nil {
				return deleted, fmt.Errorf("store: delete by size: %w", err)
			}
			n, _ := res.RowsAffected()
			deleted += n
			s.dropIndexOfDeleted(ctx, n) // before measuring again
			if _, err := s.conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
				return deleted, fmt.Errorf("store: checkpoint: %w", err)
			}
			if n == 0 {
				break
			}
		}
	}
	if deleted > 0 {
		s.log.Info("store: retention deleted events", "events", deleted)
	}
	return deleted, nil
}

// dropIndexOfDeleted removes the word index files of blocks whose events
// are all gone, after deleted events were deleted (caller holds dbMu).
func (s *Store) dropIndexOfDeleted(ctx context.Context, deleted int64) {
	if deleted == 0 {
		return
	}
	var minID sql.NullInt64
	if err := s.conn.QueryRowContext(ctx, "SELECT min(id) FROM events").Scan(&minID); err != nil {
		s.log.Warn("store: first id after retention", "err", err)
		return
	}
	if minID.Valid {
		if err := s.words.dropBelow(uint64(minID.Int64)); err != nil {
			s.log.Warn("store: removing word index files of deleted events", "err", err)
		}
	}
}

// usedBytes is the space the data occupies (blocks in use plus the WAL),
// which unlike the file size goes down when events are deleted.
func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	if _, err := s.conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return 0, fmt.Errorf("store: checkpoint: %w", err)
	}
	var blockSize, usedBlocks int64
	err := s.conn.QueryRowContext(ctx, "SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = current_database()").Scan(&blockSize, &usedBlocks)
	if err != nil {
		return 0, fmt.Errorf("store: database size: %w", err)
	}
	return blockSize*usedBlocks + s.words.size(), nil
}

// RunRetention applies the events' and the alerts' retention (Retain,
// RetainAlerts) every interval until ctx ends.
func (s *Store) RunRetention(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := s.Retain(ctx, now); err != nil {
				s.log.Warn("store: retention failed", "err", err)
			}
			if _, err := s.RetainAlerts(ctx, now); err != nil {
				s.log.Warn("store: alert retention failed", "err", err)
			}
		}
	}
}
