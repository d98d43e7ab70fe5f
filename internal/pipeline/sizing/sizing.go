// Package sizing measures a Defender stream (events/s and MB/s per table,
// average and peak) and turns the peak into the Event Hub to order:
// throughput units and partitions, as the setup guide's sizing step asks.
package sizing

import (
	"encoding/json"
	"math"
	"sort"
	"time"
)

// Event Hubs Standard limits per throughput unit, and per namespace.
const (
	TUIngressBytes  = 1 << 20 // 1 MB/s in
	TUIngressEvents = 1000    // or 1,000 events/s in
	TUEgressBytes   = 2 << 20 // 2 MB/s out
	TUEgressEvents  = 4096    // or 4,096 events/s out
	MaxPartitions   = 32      // Standard tier
	MaxStandardTU   = 40      // beyond: Premium or Dedicated
)

// Estimator accumulates records into time buckets. It is not safe for
// concurrent use.
type Estimator struct {
	bucket   time.Duration
	tables   map[string]*series
	total    *series
	messages *series
	first    time.Time
	last     time.Time
}

// series counts records and bytes per bucket.
type series struct {
	records, bytes int64
	perBucket      map[int64]*[2]int64 // bucket -> records, bytes
}

func newSeries() *series { return &series{perBucket: map[int64]*[2]int64{}} }

func (s *series) add(b int64, n, size int64) {
	s.records += n
	s.bytes += size
	c := s.perBucket[b]
	if c == nil {
		c = new([2]int64)
		s.perBucket[b] = c
	}
	c[0] += n
	c[1] += size
}

// New returns an estimator whose peaks are measured over buckets of the
// given width (a minute smooths the stream's natural burstiness; a second
// shows it).
func New(bucket time.Duration) *Estimator {
	if bucket <= 0 {
		bucket = time.Minute
	}
	return &Estimator{bucket: bucket, tables: map[string]*series{}, total: newSeries(), messages: newSeries()}
}

// AddRecord counts one raw record of size bytes. Its table and time are
// read from the record (category, time or properties.Timestamp); when
// absent, at is used.
func (e *Estimator) AddRecord(raw []byte, at time.Time) {
	var r struct {
		Category   string `json:"category"`
		Time       string `json:"time"`
		Properties struct {
			Timestamp string `json:"Timestamp"`
		} `json:"properties"`
	}
	json.Unmarshal(raw, &r) // partial results are fine for counting
	ts := at
	for _, s := range []string{r.Time, r.Properties.Timestamp} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			ts = t
			break
		}
	}
	table := r.Category
	if table == "" {
		table = "(no category)"
	}
	e.add(table, ts, int64(len(raw)))
}

func (e *Estimator) add(table string, ts time.Time, size int64) {
	if e.first.IsZero() || ts.Before(e.first) {
		e.first = ts
	}
	if ts.After(e.last) {
		e.last = ts
	}
	b := ts.UnixNano() / int64(e.bucket)
	s := e.tables[table]
	if s == nil {
		s = newSeries()
		e.tables[table] = s
	}
	s.add(b, 1, size)
	e.total.add(b, 1, size)
}

// AddMessage counts one Event Hub event (message) of size bytes enqueued
// at ts. Event Hubs limits count messages, not the records inside them;
// without messages (a file of records), records are counted instead,
// which overestimates and so errs on the safe side.
func (e *Estimator) AddMessage(ts time.Time, size int) {
	e.messages.add(ts.UnixNano()/int64(e.bucket), 1, int64(size))
}

// Rate is the measured load of one table (or of all).
type Rate struct {
	Table            string
	Records, Bytes   int64
	AvgEPS, PeakEPS  float64 // records per second
	AvgMBps, PeakMBs float64 // MB (2^20 bytes) per second
}

// Report is the measurement and the Event Hub to order.
type Report struct {
	From, To time.Time
	Span     time.Duration
	Bucket   time.Duration
	Tables   []Rate // by bytes, largest first
	Total    Rate
	// PeakMessagesPS is the peak of Event Hub events per second (the
	// records' rate when messages were not seen).
	PeakMessagesPS float64
	MessagesKnown  bool
	// Consumers is the number of consumer groups reading the hub (each
	// one counts against egress).
	Consumers int
	TUIngress int
	TUEgress  int
	// ThroughputUnits is what to order (at least 1); Partitions likewise
	// (Standard: at most 32, and fixed once created).
	ThroughputUnits int
	Partitions      int
	NeedsPremium    bool
}

// Report computes rates and sizing for consumers consumer groups.
func (e *Estimator) Report(consumers int) Report {
	if consumers < 1 {
		consumers = 1
	}
	r := Report{From: e.first, To: e.last, Bucket: e.bucket, Consumers: consumers}
	// A span shorter than a bucket would inflate averages: use at least
	// one bucket.
	r.Span = max(e.last.Sub(e.first), e.bucket)
	for name, s := range e.tables {
		r.Tables = append(r.Tables, e.rate(name, s, r.Span))
	}
	sort.Slice(r.Tables, func(i, j int) bool {
		if r.Tables[i].Bytes != r.Tables[j].Bytes {
			return r.Tables[i].Bytes > r.Tables[j].Bytes
		}
		return r.Tables[i].Table < r.Tables[j].Table
	})
	r.Total = e.rate("total", e.total, r.Span)
	r.PeakMessagesPS = r.Total.PeakEPS
	if e.messages.records > 0 {
		r.MessagesKnown = true
		r.PeakMessagesPS = e.rate("messages", e.messages, r.Span).PeakEPS
	}
	peakBytes := r.Total.PeakMBs * (1 << 20)
	r.TUIngress = ceilDiv(peakBytes, TUIngressBytes, r.PeakMessagesPS, TUIngressEvents)
	r.TUEgress = ceilDiv(peakBytes*float64(consumers), TUEgressBytes, r.PeakMessagesPS*float64(consumers), TUEgressEvents)
	r.ThroughputUnits = max(1, r.TUIngress, r.TUEgress)
	// One partition carries about 1 MB/s; the guide pairs partitions with
	// throughput units.
	r.Partitions = max(r.ThroughputUnits, int(math.Ceil(peakBytes/(1<<20))))
	if r.Partitions > MaxPartitions || r.ThroughputUnits > MaxStandardTU {
		r.NeedsPremium = true
	}
	r.Partitions = min(r.Partitions, MaxPartitions)
	return r
}

func ceilDiv(bytes, perBytes, events, perEvents float64) int {
	return int(math.Max(math.Ceil(bytes/perBytes), math.Ceil(events/perEvents)))
}

func (e *Estimator) rate(name string, s *series, span time.Duration) Rate {
	r := Rate{Table: name, Records: s.records, Bytes: s.bytes}
	secs := span.Seconds()
	r.AvgEPS = float64(s.records) / secs
	r.AvgMBps = float64(s.bytes) / secs / (1 << 20)
	bsecs := e.bucket.Seconds()
	for _, c := range s.perBucket {
		r.PeakEPS = math.Max(r.PeakEPS, float64(c[0])/bsecs)
		r.PeakMBs = math.Max(r.PeakMBs, float64(c[1])/bsecs/(1<<20))
	}
	return r
}
