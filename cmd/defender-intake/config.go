package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/defender-intake/defender-intake/internal/config"
)

func init() {
	register("config", command{summary: "check a configuration file: config check FILE", run: configCmd})
}

func configCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "usage: defender-intake config check FILE")
		fmt.Fprintln(w, "\nLoads FILE strictly (unknown keys are errors), expands ${ENV} references and validates every")
		fmt.Fprintln(w, "section: the errors name the file and line. Exit status 0 when FILE is valid, 1 when it is not.")
	}
	setUsage(fs, usage)
	// Flags may come before or after the subcommand: config -h, config check -h.
	if len(args) > 0 && args[0] == "check" {
		args = args[1:]
	} else if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		usage(stderr)
		return 2
	}
	if status, done := parseFlags(fs, args, stdout); done {
		return status
	}
	if fs.NArg() != 1 {
		usage(stderr)
		return 2
	}
	cfg, err := loadConfig(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Values from the environment are shown as their ${NAME}: any may
	// hold a secret.
	var out strings.Builder
	fmt.Fprintf(&out, "%s: OK\n", cfg.File)
	for _, c := range cfg.Sources {
		fmt.Fprintf(&out, "  source %-16s type %s\n", c.Name, c.Type)
	}
	for _, c := range cfg.Sinks {
		fmt.Fprintf(&out, "  sink   %-16s type %s\n", c.Name, c.Type)
	}
	fmt.Fprintf(&out, "  dead letters to %s; metrics on %s\n", cfg.DeadLetter.Path, orNone(cfg.Server.Listen))
	fmt.Fprint(stdout, cfg.Redact(out.String()))
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
