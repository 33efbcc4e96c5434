// Command peer_bench measures the peers' own code for three stages that pushgate's
// microbenchmarks (tools/microbench/pipeline_benchmark.cc) measure, on the same inputs:
//
//   - text_parse: the Pushgateway's parser of a pushed text body, expfmt.TextParser
//     (github.com/prometheus/common), into MetricFamily messages;
//   - protobuf_decode: the Pushgateway's reading of a delimited protobuf body, pbutil.ReadDelimited
//     into MetricFamily messages until the body ends;
//   - line_protocol_encode: InfluxData's line-protocol encoder (github.com/influxdata/line-protocol,
//     the encoder Telegraf's serializer grew from) writing the points the dispatcher writes.
//
// The inputs come from `pipeline_benchmark --write_peer_inputs=DIR`. Each stage first checks that
// it does the same work as pushgate's (as many samples; the encoder's output equal to pushgate's
// lines, byte for byte), then runs under testing.Benchmark. Run it with GOMAXPROCS=1 so that the
// garbage collector's work counts in the time per operation, as a C++ allocator's does.
//
// Output: one JSON object per stage and line, {"stage", "ns_per_op", "bytes_per_op",
// "items_per_op", "allocs_per_op"}; tools/peerbench reads them.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	protocol "github.com/influxdata/line-protocol"
	"github.com/matttproud/golang_protobuf_extensions/pbutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type result struct {
	Stage       string  `json:"stage"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  int     `json:"bytes_per_op"`
	ItemsPerOp  int     `json:"items_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
}

// samples counts what pushgate counts as samples: a value per counter, gauge or untyped
// series, and per histogram its buckets (+Inf included), _sum and _count.
func samples(families []*dto.MetricFamily) int {
	n := 0
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				n += len(h.GetBucket()) + 2
				if len(h.GetBucket()) == 0 || h.GetBucket()[len(h.GetBucket())-1].GetUpperBound() < 1e308 {
					n++ // the +Inf bucket, implied in the messages
				}
			case m.GetSummary() != nil:
				n += len(m.GetSummary().GetQuantile()) + 2
			default:
				n++
			}
		}
	}
	return n
}

func parseText(body []byte) ([]*dto.MetricFamily, error) {
	var parser expfmt.TextParser
	byName, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	families := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		families = append(families, mf)
	}
	return families, nil
}

func decodeProtobuf(body []byte) ([]*dto.MetricFamily, error) {
	var families []*dto.MetricFamily
	r := bytes.NewReader(body)
	for {
		mf := &dto.MetricFamily{}
		if _, err := pbutil.ReadDelimited(r, mf); err != nil {
			if errors.Is(err, io.EOF) {
				return families, nil
			}
			return nil, err
		}
		families = append(families, mf)
	}
}

// point is a line of points.lp, as the encoder's Metric interface wants it.
type point struct {
	name   string
	tags   []*protocol.Tag
	fields []*protocol.Field
	time   time.Time
}

func (p *point) Time() time.Time              { return p.time }
func (p *point) Name() string                 { return p.name }
func (p *point) TagList() []*protocol.Tag     { return p.tags }
func (p *point) FieldList() []*protocol.Field { return p.fields }

// parsePoints reads the lines pushgate wrote. They need no escaping (the default body has no
// space, comma, equals sign or backslash in a name or value); a line that would is refused
// rather than misread.
func parsePoints(lines []byte) ([]*point, error) {
	var points []*point
	scanner := bufio.NewScanner(bytes.NewReader(lines))
	for scanner.Scan() {
		line := scanner.Text()
		if strings.ContainsAny(line, "\\\"") {
			return nil, fmt.Errorf("line needs unescaping, which this reader does not do: %q", line)
		}
		parts := strings.Split(line, " ")
		if len(parts) != 3 {
			return nil, fmt.Errorf("not `series fields timestamp`: %q", line)
		}
		series := strings.Split(parts[0], ",")
		p := &point{name: series[0]}
		for _, tag := range series[1:] {
			kv := strings.SplitN(tag, "=", 2)
			if len(kv) != 2 {
				return nil, fmt.Errorf("bad tag %q in %q", tag, line)
			}
			p.tags = append(p.tags, &protocol.Tag{Key: kv[0], Value: kv[1]})
		}
		for _, field := range strings.Split(parts[1], ",") {
			kv := strings.SplitN(field, "=", 2)
			if len(kv) != 2 {
				return nil, fmt.Errorf("bad field %q in %q", field, line)
			}
			v, err := strconv.ParseFloat(kv[1], 64)
			if err != nil {
				return nil, fmt.Errorf("bad field value %q in %q", kv[1], line)
			}
			p.fields = append(p.fields, &protocol.Field{Key: kv[0], Value: v})
		}
		ns, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad timestamp in %q", line)
		}
		p.time = time.Unix(0, ns)
		points = append(points, p)
	}
	return points, scanner.Err()
}

func encode(encoder *protocol.Encoder, points []*point) error {
	for _, p := range points {
		if _, err := encoder.Encode(p); err != nil {
			return err
		}
	}
	return nil
}

func measure(stage string, bytesPerOp, itemsPerOp int, op func() error) (result, error) {
	var failure error
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := op(); err != nil {
				failure = err
				b.FailNow()
			}
		}
	})
	if failure != nil {
		return result{}, fmt.Errorf("%s: %v", stage, failure)
	}
	return result{Stage: stage, NsPerOp: float64(r.T.Nanoseconds()) / float64(r.N),
		BytesPerOp: bytesPerOp, ItemsPerOp: itemsPerOp, AllocsPerOp: r.AllocsPerOp()}, nil
}

func run(dir string, wantSamples int) ([]result, error) {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	text, err := read("body.txt")
	if err != nil {
		return nil, err
	}
	pb, err := read("body.pb")
	if err != nil {
		return nil, err
	}
	lines, err := read("points.lp")
	if err != nil {
		return nil, err
	}

	// The same work as pushgate's stages, checked before it is timed.
	fromText, err := parseText(text)
	if err != nil {
		return nil, fmt.Errorf("text_parse: %v", err)
	}
	if n := samples(fromText); n != wantSamples {
		return nil, fmt.Errorf("text_parse: %d samples, want %d", n, wantSamples)
	}
	fromProtobuf, err := decodeProtobuf(pb)
	if err != nil {
		return nil, fmt.Errorf("protobuf_decode: %v", err)
	}
	if n := samples(fromProtobuf); n != wantSamples {
		return nil, fmt.Errorf("protobuf_decode: %d samples, want %d", n, wantSamples)
	}
	points, err := parsePoints(lines)
	if err != nil {
		return nil, fmt.Errorf("line_protocol_encode: %v", err)
	}
	var out bytes.Buffer
	encoder := protocol.NewEncoder(&out)
	encoder.SetFieldSortOrder(protocol.SortFields) // pushgate sorts fields too
	if err := encode(encoder, points); err != nil {
		return nil, fmt.Errorf("line_protocol_encode: %v", err)
	}
	if !bytes.Equal(out.Bytes(), lines) {
		return nil, errors.New("line_protocol_encode: the encoder's lines differ from pushgate's")
	}

	var results []result
	stages := []struct {
		name         string
		bytes, items int
		op           func() error
	}{
		{"text_parse", len(text), wantSamples, func() error { _, err := parseText(text); return err }},
		{"protobuf_decode", len(pb), wantSamples, func() error { _, err := decodeProtobuf(pb); return err }},
		{"line_protocol_encode", len(lines), len(points), func() error {
			out.Reset()
			return encode(encoder, points)
		}},
	}
	for _, s := range stages {
		r, err := measure(s.name, s.bytes, s.items, s.op)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, nil
}

func main() {
	dir := flag.String("inputs", "", "directory written by pipeline_benchmark --write_peer_inputs")
	wantSamples := flag.Int("samples", 105, "samples in the body")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "peer_bench: --inputs is required")
		os.Exit(2)
	}
	results, err := run(*dir, *wantSamples)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer_bench:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			os.Exit(1)
		}
	}
}
