package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// setUsage gives a command's flag set the binary's one usage format: the
// command's own lines (synopsis, what it does), then its flags as
// `--name VALUE` with their help and default. Every command uses it, so
// that `-h` reads the same everywhere (Go's default is a bare "Usage of
// NAME:" and shows a bool flag whose help has a `quoted` word as if it
// took a value).
func setUsage(fs *flag.FlagSet, head func(w io.Writer)) {
	fs.Usage = func() { printUsage(fs.Output(), fs, head) }
}

func printUsage(w io.Writer, fs *flag.FlagSet, head func(w io.Writer)) {
	head(w)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "flags:")
	fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if isBool(f) {
			name = "" // a bool flag takes no value, whatever its help quotes
		}
		if short, ok := valueNames[name]; ok {
			name = short
		}
		if name != "" {
			line += " " + strings.ToUpper(name)
		}
		fmt.Fprintln(w, line)
		if def := f.DefValue; !isBool(f) && def != "" && def != "0" && def != "0s" && def != "[]" {
			help += fmt.Sprintf(" (default %q)", def)
		}
		for _, l := range strings.Split(help, "\n") {
			fmt.Fprintln(w, "      "+l)
		}
	})
}

// valueNames are the short value names the synopses use (--data DIR).
var valueNames = map[string]string{"directory": "dir", "address": "addr"}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseFlags parses a command's flags. -h and --help print the usage on
// stdout and end the command with status 0; a flag error prints the error
// and the usage on the flag set's output (stderr) and ends it with 2.
// done is false when the command goes on.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (status int, done bool) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, on the stream that fits
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		out := fs.Output()
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(out)
		return 0, true
	case err != nil:
		fmt.Fprintln(fs.Output())
		fs.Usage()
		return 2, true
	}
	return 0, false
}
