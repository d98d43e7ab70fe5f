package storesink

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
)

// A store sink and a detection sink on one directory share one store:
// the second user gets the same handle, and closing the first leaves it
// open for the other.
func TestSharedStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, _ := sink.Lookup("store")
	sec := f.NewSection().(*Config)
	sec.Dir = dir
	sk, err := f.OpenSink("events", sec, sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	// The same directory by another path (relative, through a symlink).
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	other, err := AcquireDir(ctx, link, nil)
	if err != nil {
		t.Fatalf("second user of the directory: %v", err)
	}
	if other != sk.(*Sink).Store() {
		t.Fatal("two handles for one directory")
	}
	// Same directory, other retention: refused with both values.
	strict := store.DefaultConfig()
	strict.Dir, strict.MaxAge = dir, time.Hour
	if _, err := Acquire(ctx, strict, nil); err == nil || !strings.Contains(err.Error(), "max_age 720h0m0s") || !strings.Contains(err.Error(), "max_age 1h0m0s") {
		t.Fatalf("conflicting retention: %v", err)
	}
	if err := sk.Close(); err != nil {
		t.Fatal(err)
	}
	// Still open for the other user.
	a := alerts.Alert{ID: "a1", RuleID: "r", RuleTitle: "T", Title: "T", Level: "low", FirstSeen: time.Now().UTC(), LastSeen: time.Now().UTC(), Count: 1}
	if err := other.PutAlerts(ctx, []alerts.Alert{a}); err != nil {
		t.Fatalf("store closed under its other user: %v", err)
	}
	if err := Release(other); err != nil {
		t.Fatal(err)
	}
	if err := Release(other); err == nil {
		t.Error("a second release of a closed store was accepted")
	}
	// Closed by the last release: a new open (another process could do
	// the same) sees the alert.
	again, err := AcquireDir(ctx, dir, nil)
	if err != nil {
		t.Fatalf("reopening after the last release: %v", err)
	}
	defer Release(again)
	if again == other {
		t.Fatal("the closed store was handed out again")
	}
	page, err := again.Alerts(ctx, store.AlertFilter{})
	if err != nil || page.Total != 1 {
		t.Fatalf("alerts after reopening: %+v %v", page, err)
	}
}
