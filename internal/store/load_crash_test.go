package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// A process killed while it writes and loads row groups loses nothing it
// acknowledged: the next Open finds every acknowledged event once.
func TestKilledWhileLoadingLosesNothingAcknowledged(t *testing.T) {
	if dir := os.Getenv("STORE_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKilledWhileLoadingLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "STORE_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once it has written more than two row groups, so that
	// commits, the log's cuts and a load being appended are all under way.
	var acked uint64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, err := strconv.ParseUint(sc.Text(), 10, 64)
		if err != nil {
			continue
		}
		acked = n
		if acked > 2*rowGroupSize+30_000 {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if acked == 0 {
		t.Fatal("the child acknowledged nothing")
	}
	s, err := Open(context.Background(), Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n, distinct, maxID uint64
	if err := s.db.QueryRow(`SELECT count(*), count(DISTINCT id), coalesce(max(id), 0) FROM events`).Scan(&n, &distinct, &maxID); err != nil {
		t.Fatal(err)
	}
	if n < acked || distinct != n || maxID != n {
		t.Errorf("after the kill: %d events, %d distinct ids, last id %d; %d were acknowledged", n, distinct, maxID, acked)
	}
	t.Logf("%d acknowledged, %d found", acked, n)
}

// crashChild writes small documents into the store in dir, printing the
// last acknowledged id after every Write, until it is killed.
func crashChild(dir string) {
	s, err := Open(context.Background(), Config{Dir: dir}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	deadline := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(deadline); i += 5000 {
		if err := s.Write(context.Background(), smallDocs(i, 5000)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(i + 5000)
	}
	os.Exit(3)
}
