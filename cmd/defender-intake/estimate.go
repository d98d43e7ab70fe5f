package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/sizing"
	"github.com/defender-intake/defender-intake/internal/source"
	"github.com/defender-intake/defender-intake/internal/source/eventhub"
	"github.com/defender-intake/defender-intake/internal/source/kafka"
)

func init() {
	register("estimate", command{summary: "measure events/s and MB/s per table and size the Event Hub", run: estimateCmd})
}

func estimateCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("estimate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "measure the live stream of a source of this config instead of files")
	srcName := fs.String("source", "", "with --config: the source to measure (default: the first)")
	duration := fs.Duration("duration", 10*time.Minute, "with --config: how long to measure")
	group := fs.String("group", "", "with --config: consumer group to read with instead of the configured one (Event Hub, Kafka); "+
		"use one the running service does not use, or the service loses partitions to the estimate while it runs")
	bucket := fs.Duration("bucket", time.Minute, "window over which peaks are measured")
	consumers := fs.Int("consumers", 1, "consumer groups that will read the hub (each counts against egress)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	setUsage(fs, func(w io.Writer) {
		fmt.Fprintln(w, "usage: defender-intake estimate [flags] FILE...     (- for stdin)")
		fmt.Fprintln(w, "       defender-intake estimate [flags] --config FILE [--source NAME] [--group GROUP] [--duration 10m]")
		fmt.Fprintln(w, "\nRates use the records' own times (category and time of each record), so an export of")
		fmt.Fprintln(w, "a busy day gives that day's load. The live mode never checkpoints: it only reads.")
	})
	if status, done := parseFlags(fs, args, stdout); done {
		return status
	}
	est := sizing.New(*bucket)
	var err error
	switch {
	case *cfgPath != "" && fs.NArg() == 0:
		err = estimateLive(est, *cfgPath, *srcName, *group, *duration, stderr)
	case *cfgPath == "" && fs.NArg() > 0:
		if err := checkInputFiles(fs.Args()); err != nil {
			fmt.Fprintln(stderr, "estimate:", err)
			return 2
		}
		err = estimateFiles(est, fs.Args(), stdin, stderr)
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "estimate:", err)
		return 1
	}
	rep := est.Report(*consumers)
	if rep.Total.Records == 0 {
		fmt.Fprintln(stderr, "estimate: no records found")
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return 0
	}
	printReport(stdout, rep)
	return 0
}

func estimateFiles(est *sizing.Estimator, paths []string, stdin io.Reader, stderr io.Writer) error {
	now := time.Now()
	for _, p := range paths {
		var r io.Reader = stdin
		if p != "-" {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		rd := envelope.NewReader(r)
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			var bad *envelope.Error
			if errors.As(err, &bad) {
				fmt.Fprintf(stderr, "%s: skipped: %v\n", p, bad)
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			est.AddRecord(rec.Bytes, now)
		}
	}
	return nil
}

// measuringEmitter counts what a source emits and acknowledges every
// batch with an error, so that the source never advances its position:
// estimating must not consume the stream for the real service.
type measuringEmitter struct {
	est *sizing.Estimator
}

var errEstimateOnly = errors.New("estimate only: not delivered")

func (m *measuringEmitter) Emit(_ context.Context, b *pipeline.Batch) error {
	now := time.Now()
	for _, msg := range b.Messages {
		at := msg.Origin.EnqueuedTime
		if at.IsZero() {
			at = now
		}
		m.est.AddMessage(at, len(msg.Body))
		if msg.Single {
			m.est.AddRecord(msg.Body, at)
			continue
		}
		envelope.SplitBody(msg.Body, func(rec []byte) { m.est.AddRecord(rec, at) })
	}
	b.Ack(errEstimateOnly)
	return nil
}

func estimateLive(est *sizing.Estimator, cfgPath, name, group string, d time.Duration, stderr io.Writer) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	var found bool
	for _, c := range cfg.Sources {
		if name != "" && c.Name != name {
			continue
		}
		f, _ := source.Lookup(c.Type)
		section := c.Section
		if group != "" {
			switch s := section.(type) {
			case *eventhub.Config:
				cp := *s
				cp.HubConsumerGroup = group
				section = &cp
			case *kafka.Config:
				cp := *s
				cp.Group = group
				section = &cp
			default:
				return fmt.Errorf("--group: source %s (%s) has no consumer group", c.Name, c.Type)
			}
		}
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		src, err := f.Open(c.Name, section, source.Env{Logger: log})
		if err != nil {
			return err
		}
		found = true
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		ctx, cancel := context.WithTimeout(ctx, d)
		fmt.Fprintf(stderr, "measuring source %s for %s (Ctrl-C to stop early)...\n", c.Name, d)
		err = src.Run(ctx, &measuringEmitter{est: est})
		cancel()
		stop()
		if err != nil {
			return err
		}
		break
	}
	if !found {
		return fmt.Errorf("%s: no source named %q", cfgPath, name)
	}
	return nil
}

func printReport(w io.Writer, r sizing.Report) {
	fmt.Fprintf(w, "Measured %s .. %s (%s; peaks over %s windows)\n\n", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339), r.Span.Round(time.Second), r.Bucket)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TABLE\tRECORDS\tAVG EV/S\tPEAK EV/S\tAVG MB/S\tPEAK MB/S\t")
	row := func(x sizing.Rate) {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.4f\t%.4f\t\n", x.Table, x.Records, x.AvgEPS, x.PeakEPS, x.AvgMBps, x.PeakMBs)
	}
	for _, t := range r.Tables {
		row(t)
	}
	row(r.Total)
	tw.Flush()
	fmt.Fprintf(w, "\nEvent Hub to order (%d consumer group(s) reading):\n", r.Consumers)
	basis := "records/s (the Event Hub events carry several records each, so this errs high)"
	if r.MessagesKnown {
		basis = "Event Hub events/s"
	}
	fmt.Fprintf(w, "  throughput units: %d   (ingress needs %d: 1 TU = 1 MB/s or 1,000 events/s; egress needs %d: 1 TU = 2 MB/s or 4,096 events/s; peak %.0f %s)\n",
		r.ThroughputUnits, r.TUIngress, r.TUEgress, r.PeakMessagesPS, basis)
	fmt.Fprintf(w, "  partitions:       %d   (about 1 MB/s each; fixed at creation on Standard, so round up for growth)\n", r.Partitions)
	if r.NeedsPremium {
		fmt.Fprintf(w, "  note: beyond Standard (%d partitions, %d TU): consider Premium or Dedicated, or several hubs\n", sizing.MaxPartitions, sizing.MaxStandardTU)
	}
}
