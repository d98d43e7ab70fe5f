package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/normalize"
)

// With more than one CPU, normalize splits the work: one goroutine reads
// and splits the input into batches of records, workers (one per CPU, each
// with its own Normalizer) normalize whole batches, and the command's
// goroutine writes the batches' documents and reports their rejects in
// input order. Reading is a fifth of the work and normalizing the rest, so
// the stages overlap and the workers share the normalizing. When the other
// CPUs are busy this does not pay, and the reading goroutine normalizes
// the batches itself (modeChooser decides).

const (
	// batchBytes and batchRecords end a batch: large enough that a batch
	// costs a few channel operations per thousands of records, small
	// enough that memory stays a few MB.
	batchBytes   = 512 << 10
	batchRecords = 1024
)

// recordBatch is a run of consecutive input records (and reader errors).
type recordBatch struct {
	data  []byte // the records' bytes, one after another
	items []batchItem
	docs  []byte // the documents, each followed by '\n', in item order
	// byWorker is set when a worker normalized the batch, not the
	// reading goroutine.
	byWorker bool
	// normalized is closed when a worker has filled docs and the items'
	// results.
	normalized chan struct{}
}

type batchItem struct {
	start, end int // the record (or the skipped input) in data
	line       int
	// stage and reason are set for input that could not be normalized:
	// by the reader ("envelope") or by the worker ("normalize").
	stage, reason string
	docEnd        int // end of this record's document in docs
}

func (b *recordBatch) reset() {
	b.data, b.items, b.docs = b.data[:0], b.items[:0], b.docs[:0]
	b.normalized = make(chan struct{})
	b.byWorker = false
}

// fileParallel is file with the work spread over workers goroutines.
func (j *normalizeJob) fileParallel(rd *envelope.Reader, display string, workers int) error {
	inFlight := 2*workers + 2
	free := make(chan *recordBatch, inFlight)
	for range inFlight {
		free <- &recordBatch{}
	}
	work := make(chan *recordBatch, inFlight)
	ordered := make(chan *recordBatch, inFlight)
	stop := make(chan struct{})
	var readErr error // a failure of the input itself, set before ordered closes

	go func() { // reader
		defer close(ordered)
		defer close(work)
		b := <-free
		b.reset()
		mode := newModeChooser()
		own := j.n // for the batches normalized here (the command's goroutine only writes now)
		send := func() bool {
			records := len(b.items)
			if !mode.parallel {
				j.normalizeBatch(own, b)
				close(b.normalized)
			}
			select {
			case ordered <- b:
			case <-stop:
				return false
			}
			if mode.parallel {
				b.byWorker = true
				work <- b
			}
			select {
			case b = <-free:
				b.reset()
			case <-stop:
				return false
			}
			mode.batchDone(records, time.Now())
			return true
		}
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				if len(b.items) > 0 {
					send()
				}
				return
			}
			var bad *envelope.Error
			switch {
			case err == nil:
				start := len(b.data)
				b.data = append(b.data, rec.Bytes...)
				b.items = append(b.items, batchItem{start: start, end: len(b.data), line: rec.Line})
			case errors.As(err, &bad):
				start := len(b.data)
				b.data = append(b.data, bad.Raw...)
				b.items = append(b.items, batchItem{start: start, end: len(b.data), line: bad.Line,
					stage: "envelope", reason: bad.Reason})
			case err != nil:
				readErr = fmt.Errorf("%s: %w", display, err)
				if len(b.items) > 0 {
					send()
				}
				return
			}
			if (len(b.data) >= batchBytes || len(b.items) >= batchRecords) && !send() {
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := normalize.New(normalize.Options{})
			for b := range work {
				j.normalizeBatch(n, b)
				close(b.normalized)
			}
		}()
	}
	defer wg.Wait()

	for b := range ordered {
		<-b.normalized
		if b.byWorker {
			j.parallelBatches++
		} else {
			j.sequentialBatches++
		}
		if err := j.writeBatch(b, display); err != nil {
			close(stop)
			for range ordered { // let the reader end
			}
			return err
		}
		free <- b
	}
	return readErr
}

// normalizeBatch fills b.docs and the results of b's items.
func (j *normalizeJob) normalizeBatch(n *normalize.Normalizer, b *recordBatch) {
	for i := range b.items {
		it := &b.items[i]
		if it.stage == "" {
			start := len(b.docs)
			doc, _, err := n.Append(b.docs, b.data[it.start:it.end])
			if err != nil {
				it.stage, it.reason = "normalize", err.Error()
				b.docs = b.docs[:start]
			} else {
				b.docs = doc
				if j.pretty {
					var ind bytes.Buffer
					if json.Indent(&ind, doc[start:], "", "  ") == nil {
						b.docs = append(doc[:start], ind.Bytes()...)
					}
				}
				b.docs = append(b.docs, '\n')
			}
		}
		it.docEnd = len(b.docs)
	}
}

// writeBatch writes b's documents and reports its rejects, in input order.
func (j *normalizeJob) writeBatch(b *recordBatch, display string) error {
	docStart := 0
	for _, it := range b.items {
		if it.stage != "" {
			if err := j.rejects.add(context.Background(), display, it.line, it.stage, it.reason, b.data[it.start:it.end]); err != nil {
				return err
			}
			continue
		}
		j.out.Write(b.docs[docStart:it.docEnd])
		docStart = it.docEnd
		j.done++
	}
	return nil
}
