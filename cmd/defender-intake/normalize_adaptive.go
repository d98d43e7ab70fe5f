package main

import (
	"io"
	"os"
	"time"
)

// modeChooser decides, window by window of batches, whether the workers
// normalize the batches (parallel) or the reading goroutine does, between
// two reads (sequential). Parallel work pays only when the other CPUs are
// free: on a machine that other processes keep busy it costs more (copies,
// hand-offs, two collectors' worth of garbage) for no more CPU time. So
// the chooser measures the records per second of each mode, keeps the
// faster one, and every few windows tries the other again, since the load
// of a machine changes.
type modeChooser struct {
	parallel bool
	n        int        // batches of the current window so far
	records  int        // records of the window's measured batches
	start    time.Time  // end of the window's last unmeasured batch
	rate     [2]float64 // last measured records/s: sequential, parallel
	windows  int
}

// The window of modeChooser (variables: tests shorten it to change modes
// often).
var (
	// windowBatches is the length of a window, about 50 ms.
	windowBatches = 24
	// warmBatches (at least 1) are the first batches of a window, not
	// measured: the pipeline fills or drains after a change of mode.
	warmBatches = 4
)

// probeEvery: one window in so many runs in the mode measured slower.
const probeEvery = 10

func newModeChooser() *modeChooser { return &modeChooser{parallel: true} }

// batchDone counts a batch of records handed on at now, and sets the mode
// of the next batch.
func (c *modeChooser) batchDone(records int, now time.Time) {
	c.n++
	switch {
	case c.n == warmBatches:
		c.start, c.records = now, 0
	case c.n > warmBatches:
		c.records += records
	}
	if c.n < windowBatches {
		return
	}
	c.n = 0
	mode := 0
	if c.parallel {
		mode = 1
	}
	c.rate[mode] = float64(c.records) / now.Sub(c.start).Seconds()
	c.windows++
	best := c.rate[1] > c.rate[0]
	switch {
	case c.rate[0] == 0:
		c.parallel = false
	case c.rate[1] == 0:
		c.parallel = true
	case c.windows%probeEvery == 0:
		c.parallel = !best
	default:
		c.parallel = best
	}
}

// parallelMinInput is how much input a run must have for normalize to try
// the parallel way at all (a variable: tests lower it). Trying costs
// about the same whatever the length of the run (workers' normalizers and
// batch buffers, a window of batches in the mode that may be the slower
// one), and it pays back only over a long run: on the loaded 2-core build
// machine, runs of 35 MB (30,000 small records, about a third of a second
// of one core's work) that tried it were 7% slower than on one core, while
// runs of 80 MB and more were faster with it.
var parallelMinInput int64 = 64 << 20

// sequentialBytes is how many bytes of records normalize reads on one
// goroutine before it tries the parallel way (-1: it never does). With
// one CPU, never. When the input is a regular file, its size says whether
// the run is long enough: never below parallelMinInput, else from the
// start. A stream of unknown length (a pipe) is read on one goroutine for
// its first parallelMinInput bytes, so a short one never pays the try.
func sequentialBytes(in io.Reader, workers int) int64 {
	if workers <= 1 {
		return -1
	}
	if f, ok := in.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			at, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				at = 0
			}
			if st.Size()-at < parallelMinInput {
				return -1
			}
			return 0
		}
	}
	return parallelMinInput
}
