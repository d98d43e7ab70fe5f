package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/defender-intake/defender-intake/internal/config"
)

func init() {
	register("config", command{summary: "check a configuration file: config check FILE", run: configCmd})
}

func configCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: defender-intake config check FILE")
		fmt.Fprintln(stderr, "\nLoads FILE strictly (unknown keys are errors), expands ${ENV} references and validates every section.")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 || fs.Arg(0) != "check" {
		fs.Usage()
		return 2
	}
	cfg, err := loadConfig(fs.Arg(1))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK\n", cfg.File)
	for _, c := range cfg.Sources {
		fmt.Fprintf(stdout, "  source %-16s type %s\n", c.Name, c.Type)
	}
	for _, c := range cfg.Sinks {
		fmt.Fprintf(stdout, "  sink   %-16s type %s\n", c.Name, c.Type)
	}
	fmt.Fprintf(stdout, "  dead letters to %s; metrics on %s\n", cfg.DeadLetter.Path, orNone(cfg.Server.Listen))
	return 0
}

// loadConfig loads and validates the file at path.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func orNone(s string) string {
	if s == "" {
		return "(disabled)"
	}
	return s
}
