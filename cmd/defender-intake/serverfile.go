package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverFileName is the file a process serving a store's Events page
// (serve, demo, run with a store sink) keeps in the store's data
// directory while it runs. DuckDB lets one process open the store: the
// CLI reads this file to reach the store through that process's API
// (search) or to say which process holds it (ingest).
const serverFileName = "server.json"

// serverRecord is the content of serverFileName. It never holds the
// token, only whether one is needed.
type serverRecord struct {
	PID           int       `json:"pid"`
	Command       string    `json:"command"`
	URL           string    `json:"url"`
	TokenRequired bool      `json:"token_required"`
	Started       time.Time `json:"started"`
}

// writeServerFile records that this process serves the store in dir on
// addr; remove deletes the record (only if it is still this process's).
func writeServerFile(dir, command string, addr net.Addr, tokenRequired bool) (remove func(), err error) {
	rec := serverRecord{PID: os.Getpid(), Command: command, URL: "http://" + localAddr(addr), TokenRequired: tokenRequired, Started: time.Now().UTC()}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, serverFileName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("recording the server's address: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("recording the server's address: %w", err)
	}
	return func() {
		if cur, err := readServerFile(dir); err == nil && cur.PID == rec.PID {
			os.Remove(path)
		}
	}, nil
}

// localAddr is addr as this machine's clients dial it: a wildcard
// listen (0.0.0.0, [::]) is reached on loopback.
func localAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port)
}

// readServerFile reads the record of the process serving the store in
// dir. A record whose process is gone (killed without removing it) is
// an error, as no record.
func readServerFile(dir string) (serverRecord, error) {
	var rec serverRecord
	b, err := os.ReadFile(filepath.Join(dir, serverFileName))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", filepath.Join(dir, serverFileName), err)
	}
	if rec.PID <= 0 || rec.URL == "" {
		return rec, fmt.Errorf("%s: no pid or url", filepath.Join(dir, serverFileName))
	}
	if err := syscall.Kill(rec.PID, 0); errors.Is(err, syscall.ESRCH) {
		return rec, fmt.Errorf("%s: process %d is gone", filepath.Join(dir, serverFileName), rec.PID)
	}
	return rec, nil
}

// isLockError says whether a store open failed because another process
// holds the store (DuckDB's file lock).
func isLockError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Could not set lock")
}

var lockPID = regexp.MustCompile(`\(PID (\d+)\)`)

// lockHolder says in words which process holds the store in dir: the
// server record when there is one, else the pid in DuckDB's error.
func lockHolder(dir string, err error) string {
	if rec, rerr := readServerFile(dir); rerr == nil {
		return fmt.Sprintf("process %d (`defender-intake %s`, Events page %s/)", rec.PID, rec.Command, rec.URL)
	}
	if m := lockPID.FindStringSubmatch(err.Error()); m != nil {
		if pid, perr := strconv.Atoi(m[1]); perr == nil {
			return fmt.Sprintf("process %d", pid)
		}
	}
	return "another process"
}
