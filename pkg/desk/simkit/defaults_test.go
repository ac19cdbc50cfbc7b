package simkit

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestOrPositive(t *testing.T) {
	tests := []struct {
		v, def, want time.Duration
	}{
		{0, time.Second, time.Second},
		{-time.Millisecond, time.Second, time.Second},
		{time.Millisecond, time.Second, time.Millisecond},
	}
	for _, tt := range tests {
		if got := OrPositive(tt.v, tt.def); got != tt.want {
			t.Errorf("OrPositive(%v, %v) = %v", tt.v, tt.def, got)
		}
	}
	if OrPositive(0, 200) != 200 || OrPositive(int64(7), 10<<20) != 7 || OrPositive(-1.5, 2.5) != 2.5 {
		t.Error("OrPositive on ints or floats")
	}
}

func TestOrNowOrDiscard(t *testing.T) {
	if OrNow(nil)().IsZero() {
		t.Error("OrNow(nil) is not a clock")
	}
	fixed := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := OrNow(func() time.Time { return fixed })(); !got.Equal(fixed) {
		t.Errorf("OrNow(fixed) = %v", got)
	}
	l := OrDiscard(nil)
	if l == nil || l.Enabled(context.Background(), slog.LevelError) {
		t.Error("OrDiscard(nil) is not a discarding logger")
	}
	own := slog.Default()
	if OrDiscard(own) != own {
		t.Error("OrDiscard replaced a logger")
	}
}

func TestIDs(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	sfid := regexp.MustCompile(`^005[0-9A-Za-z]{12}$`)
	hex := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		u, id, h := RandomUUID(), NewSFID("005"), RandomHex(16)
		if !uuid.MatchString(u) || !sfid.MatchString(id) || !hex.MatchString(h) {
			t.Fatalf("ids %q %q %q", u, id, h)
		}
		if seen[u] || seen[id] || seen[h] {
			t.Fatalf("repeated id among %q %q %q", u, id, h)
		}
		seen[u], seen[id], seen[h] = true, true, true
	}
	if got := RandomHex(4); len(got) != 8 {
		t.Errorf("RandomHex(4) = %q", got)
	}
	if got := NewSFID("0Mw"); len(got) != 15 || !strings.HasPrefix(got, "0Mw") {
		t.Errorf("NewSFID(0Mw) = %q", got)
	}
	if got := NewSFID(strings.Repeat("x", 20)); got != strings.Repeat("x", 20) {
		t.Errorf("NewSFID(long prefix) = %q", got)
	}
}
