package envelope

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"testing"
)

// benchInput is the project's sample (Event Hub bodies and bare records,
// one per line) repeated to about 4 MB.
func benchInput(b *testing.B) []byte {
	sample, err := os.ReadFile("../../examples/defender-sample.ndjson")
	if err != nil {
		b.Skip("no sample:", err)
	}
	return bytes.Repeat(sample, 4<<20/len(sample)+1)
}

// BenchmarkReader splits NDJSON input into records. The baseline in the
// same run only cuts lines (bufio.Scanner), the least any reader does.
func BenchmarkReader(b *testing.B) {
	in := benchInput(b)
	b.Run("reader", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		records := 0
		for b.Loop() {
			rd := NewReader(bytes.NewReader(in))
			for {
				_, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				records++
			}
		}
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("baseline-lines", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			sc := bufio.NewScanner(bytes.NewReader(in))
			sc.Buffer(nil, MaxRecordBytes)
			for sc.Scan() {
			}
		}
	})
}
