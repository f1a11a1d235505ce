package httpsink

import (
	"bytes"

	"github.com/asynclog/asynclog"
)

// Encoding a batch in the request body's format.

// encode frames as many of recs as fit in MaxBodyBytes (at least one) into
// s.body and returns how many it took.
func (s *Sink) encode(recs []asynclog.Record) int {
	s.bodyOff = 0
	switch s.format {
	case JSONArray:
		return s.encodeArray(recs)
	case OTLP:
		var n int
		s.body, n = s.otlp.encode(s.body[:0], recs, s.maxBody)
		return n
	case OTLPProtobuf:
		var n int
		s.body, s.bodyOff, n = s.proto.encode(s.body, recs, s.maxBody)
		return n
	case ElasticBulk:
		return s.encodeBulk(recs, s.maxBody)
	}
	return s.encodeNDJSON(recs)
}

// encoded returns a record's JSON without its trailing line ending and
// the number of bytes it takes in a body: an empty one is written as {}.
func encoded(r *asynclog.Record) ([]byte, int) {
	b := bytes.TrimRight(r.Encoded, "\r\n")
	return b, max(len(b), len(emptyObject))
}

// emptyObject stands in for a record with no encoding.
const emptyObject = "{}"

// appendEncoded appends e, or {} if it is empty.
func appendEncoded(b, e []byte) []byte {
	if len(e) == 0 {
		return append(b, emptyObject...)
	}
	return append(b, e...)
}

func (s *Sink) encodeNDJSON(recs []asynclog.Record) int {
	b := s.body[:0]
	n := 0
	for i := range recs {
		e, size, breaks := oneLineSize(&recs[i])
		if n > 0 && len(b)+size+1 > s.maxBody {
			break
		}
		if breaks {
			b = appendOneLine(b, e)
		} else {
			b = appendEncoded(b, e)
		}
		b = append(b, '\n')
		n++
	}
	s.body = b
	return n
}

func (s *Sink) encodeArray(recs []asynclog.Record) int {
	b := append(s.body[:0], '[')
	n := 0
	for i := range recs {
		e, size := encoded(&recs[i])
		if n > 0 && len(b)+1+size+1 > s.maxBody {
			break
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = appendEncoded(b, e)
		n++
	}
	s.body = append(b, ']')
	return n
}

func (s *Sink) contentType() string {
	switch s.format {
	case NDJSON, ElasticBulk:
		return "application/x-ndjson"
	case OTLPProtobuf:
		return "application/x-protobuf"
	}
	return "application/json"
}

// payload returns the encoded body of the next request.
func (s *Sink) payload() []byte { return s.body[s.bodyOff:] }
