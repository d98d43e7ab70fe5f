package forward

import (
	"errors"
	"slices"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
)

func TestChunksSend(t *testing.T) {
	items := [][]byte{[]byte("aaaa"), []byte("bb"), []byte("cccccccccccc"), []byte("d"), []byte("ee"), []byte("f")}
	tests := []struct {
		name   string
		c      Chunks
		refuse int // the item the target refuses for good (-1: none)
		failAt int // the request that fails for now (-1: none)
		want   [][]int
		failed []int
		reject []int
	}{
		{name: "by count", c: Chunks{MaxItems: 4, MaxBytes: 1000}, refuse: -1, failAt: -1,
			want: [][]int{{0, 1, 2, 3}, {4, 5}}},
		// 2 + (4+1) + (2+1) = 10; then 12+1 alone (larger than the bound).
		{name: "by bytes, a large item alone", c: Chunks{MaxItems: 10, MaxBytes: 10, Overhead: 2, PerItem: 1}, refuse: -1, failAt: -1,
			want: [][]int{{0, 1}, {2}, {3, 4, 5}}},
		{name: "a failure fails every later item", c: Chunks{MaxItems: 2, MaxBytes: 1000}, refuse: -1, failAt: 1,
			want: [][]int{{0, 1}, {2, 3}}, failed: []int{2, 3, 4, 5}},
		{name: "a refused item is dead-lettered alone", c: Chunks{MaxItems: 3, MaxBytes: 1000}, refuse: 4, failAt: -1,
			want: [][]int{{0, 1, 2}, {3, 4, 5}, {3}, {4, 5}, {4}, {5}}, reject: []int{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]int
			var rejected []int
			err := tt.c.Send(items, func(idx []int) error {
				got = append(got, slices.Clone(idx))
				if len(got)-1 == tt.failAt {
					return errors.New("connection reset")
				}
				if slices.Contains(idx, tt.refuse) {
					return &StatusError{Code: 400, Body: "bad record"}
				}
				return nil
			}, func(i int, err error) error {
				rejected = append(rejected, i)
				return nil
			})
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Fatalf("requests %v, want %v", got, tt.want)
			}
			var pe *sink.PartialError
			if tt.failed == nil && err != nil || tt.failed != nil && (!errors.As(err, &pe) || !slices.Equal(pe.Failed, tt.failed)) {
				t.Fatalf("error %v, want items %v failed", err, tt.failed)
			}
			if !slices.Equal(rejected, tt.reject) {
				t.Fatalf("dead-lettered %v, want %v", rejected, tt.reject)
			}
		})
	}
}
