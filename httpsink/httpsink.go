package httpsink

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/asynclog/asynclog"
)

// Format is the wire format of a request body.
type Format int

const (
	// NDJSON sends one record's Encoded bytes per line, each line ended by
	// '\n', with Content-Type application/x-ndjson. It is the default.
	NDJSON Format = iota
	// JSONArray sends the batch as one JSON array of the records' Encoded
	// objects, with Content-Type application/json.
	JSONArray
	// OTLP sends an OTLP/HTTP JSON ExportLogsServiceRequest, with
	// Content-Type application/json, for an endpoint such as
	// http://host:4318/v1/logs.
	OTLP
	// OTLPProtobuf sends the same ExportLogsServiceRequest as OTLP (the
	// same resource, scope and LogRecords) in protobuf, with Content-Type
	// application/x-protobuf: OTLP/HTTP's default encoding, a third of
	// the bytes and cheaper to send, and the only one some backends take
	// (VictoriaLogs, for one). A partial success in the answer is read from protobuf, or
	// from JSON if the answer's Content-Type says JSON.
	OTLPProtobuf
	// ElasticBulk sends Elasticsearch's _bulk format, for an endpoint such
	// as http://host:9200/<index>/_bulk (the URL names the index, unless
	// Options.Index does): each record's Encoded object is a document,
	// after an action line {"create":{}}, each line ended by '\n', with
	// Content-Type application/x-ndjson. A raw line break in a record is
	// escaped (in a JSON string) or made a space (between tokens), so that
	// no record can split or pass for an action line.
	//
	// The answer is read item by item: with "errors": true, the records
	// whose items were refused count as rejected, reported as
	// [asynclog.Partial] like an OTLP partial success; those refused with
	// 429 Too Many Requests are first sent again, those alone, by Write
	// itself (the queue retries a batch or its rest, not records scattered
	// through it): up to 4 times, after 100 ms, then twice as long each
	// time, within the Write's ctx. Whatever is still refused then counts
	// as rejected. A 429 for the whole request is retried by the queue.
	ElasticBulk
)

// String returns the format's name.
func (f Format) String() string {
	switch f {
	case NDJSON:
		return "NDJSON"
	case JSONArray:
		return "JSONArray"
	case OTLP:
		return "OTLP"
	case OTLPProtobuf:
		return "OTLPProtobuf"
	case ElasticBulk:
		return "ElasticBulk"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Options configures a [Sink]. The zero value means every default; each
// field's comment gives its default. [New] copies what it needs, so the
// caller may change the value afterwards.
type Options struct {
	// Format is the body's wire format. Default NDJSON.
	Format Format
	// Headers are added to every request, for example Authorization. The
	// values of credentials (Authorization, Proxy-Authorization, Cookie,
	// and headers whose names contain key, token, secret, auth, password,
	// passwd, session, cookie, credential or signature) never appear in
	// errors, in any encoding a server may echo them in; other headers
	// are settings, quoted as they are. nil: none. Content-Type and
	// Content-Encoding are set by the sink. A 307 or 308 redirect to
	// another origin (scheme, host or port) is followed without any of
	// them.
	Headers http.Header
	// Gzip compresses each body and sets Content-Encoding: gzip.
	Gzip bool
	// Client sends the requests. nil: a client of the sink's own, with
	// connect, TLS handshake and response-header timeouts and keep-alive,
	// whose idle connections Close closes. A caller's client is not closed.
	// Either way the sink sends through a copy whose CheckRedirect refuses
	// a redirect that would drop the body (see [StatusError.Location]); a
	// caller's CheckRedirect still decides the 307 and 308 redirects, which
	// keep it.
	Client *http.Client
	// MaxBodyBytes is the most uncompressed bytes per request: a bigger
	// batch is split across requests, in order. A single record bigger
	// than this is sent alone rather than dropped. 0 means 4 MiB; negative
	// is an error.
	MaxBodyBytes int
	// ResponseBodyTimeout bounds the time Write spends reading one
	// response's body once its status and headers have arrived: a server
	// that never ends the body cannot hold each Write until the queue's
	// WriteTimeout. When it runs out, the status alone decides (a 2xx is
	// delivered) and the connection is closed. 0 means 10 seconds;
	// negative is an error. The wait for the status and headers is bounded
	// by the ctx Write is given (and, with the sink's own client, by a
	// 30-second response-header timeout).
	ResponseBodyTimeout time.Duration
	// IdempotencyHeader, if set, names a header that carries a key for
	// each request, with which a collector can drop the duplicates that
	// at-least-once delivery sends (see the package doc). Collectors and
	// gateways that deduplicate commonly use "Idempotency-Key", which Go's
	// transport also takes as leave to resend a POST on a kept-alive
	// connection that broke. "" (the default): no such header. It must be
	// a valid header name; it takes the place of a header of that name in
	// Headers.
	IdempotencyHeader string

	// Index is the Elasticsearch index or data stream that ElasticBulk's
	// action lines name ({"create":{"_index":"logs-app"}}). "" (the
	// default): none, so the URL must name it (http://host:9200/logs-app/_bulk),
	// or the server picks (VictoriaLogs' /insert/elasticsearch/_bulk).
	// Other formats ignore it.
	Index string

	// ServiceName is the OTLP resource's service.name. "" means the
	// OTEL_SERVICE_NAME environment variable, else a service.name in
	// Resource or OTEL_RESOURCE_ATTRIBUTES, else "unknown_service:" and the
	// executable's name, as the OpenTelemetry specification says.
	ServiceName string
	// Resource holds further OTLP resource attributes (groups become
	// kvlist values). They take precedence over OTEL_RESOURCE_ATTRIBUTES,
	// which New also reads. nil: only the environment's and service.name.
	Resource []slog.Attr
	// LevelKey is the top-level key of Encoded under which the front end
	// wrote the level: its first string value there becomes the OTLP
	// severityText, and it is not repeated as an attribute. "" means
	// "level" (zap's and slog's default).
	LevelKey string
	// OmitKeys are the other top-level keys the front end wrote for the
	// record's own time and message, which OTLP carries in timeUnixNano and
	// body: the first occurrence of each is not repeated as an attribute.
	// nil means "ts", "time" and "msg" (zap's and slog's defaults); an
	// empty non-nil slice omits nothing but LevelKey.
	OmitKeys []string
}

// Defaults of [Options].
const (
	defaultMaxBodyBytes        = 4 << 20
	defaultResponseBodyTimeout = 10 * time.Second
	// errBodyBytes is how much of a response body an error quotes.
	errBodyBytes = 256
	// maxResponseBytes bounds how much of a response body is read.
	maxResponseBytes = 1 << 20
	// keepBufBytes: a reusable buffer grown beyond this is dropped after
	// the Write, so one huge batch does not pin its memory.
	keepBufBytes = 8 << 20
)

// Sink posts batches to one HTTP endpoint. It implements [asynclog.Sink]
// and has the Close(ctx) method that [asynclog.Queue.Shutdown] calls.
//
// Write must be called from one goroutine at a time, as the queue's
// consumer does: the sink reuses its buffers across calls. Close may be
// called from any goroutine.
type Sink struct {
	url         string // as given, for requests
	redacted    string // scheme://host/path, for errors
	format      Format
	headers     http.Header
	gzip        bool
	client      *http.Client
	ownClient   bool
	maxBody     int
	bodyTimeout time.Duration
	otlp        *otlpEncoder  // nil unless format is OTLP
	proto       *protoEncoder // nil unless format is OTLPProtobuf
	body        []byte
	bodyOff     int // the request's body is body[bodyOff:]
	zbuf        bytes.Buffer
	zw          *gzip.Writer
	respBuf     []byte
	pending     pending // the batch the queue's next Write retries, if any
	idemHeader  string  // canonical; "" for none
	idemPrefix  string  // random to the sink: 32 hex digits
	batches     uint64  // batches begun, for their numbers
	seed        maphash.Seed
	secrets     []string // header values, user info and query values, never to be quoted
	bodyReader  bodyReaders
	action      []byte                               // ElasticBulk's action line
	bulk        bulkAnswer                           // what the last bulk answer refused
	again       []asynclog.Record                    // records of a bulk request to resend
	after       func(time.Duration) <-chan time.Time // time.After; a test's own clock
}

var _ asynclog.Sink = (*Sink)(nil)

// New returns a Sink that posts to url, the full endpoint: nothing is
// appended to it (for OTLP, for example, http://host:4318/v1/logs). It
// returns an error for an invalid URL, a scheme other than http or https,
// an unknown Format or a negative MaxBodyBytes.
func New(rawURL string, opts Options) (*Sink, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, user info included
		}
		return nil, fmt.Errorf("httpsink: parse URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("httpsink: URL scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("httpsink: URL has no host")
	}
	if opts.ResponseBodyTimeout < 0 {
		return nil, fmt.Errorf("httpsink: Options.ResponseBodyTimeout is negative (%v)", opts.ResponseBodyTimeout)
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("httpsink: Options.MaxBodyBytes is negative (%d)", opts.MaxBodyBytes)
	}
	if h := opts.IdempotencyHeader; h != "" && !validHeaderName(h) {
		return nil, fmt.Errorf("httpsink: Options.IdempotencyHeader %q is not a valid header name", h)
	}
	if opts.Format < NDJSON || opts.Format > ElasticBulk {
		return nil, fmt.Errorf("httpsink: Options.Format is not a known format (%d)", int(opts.Format))
	}
	s := &Sink{
		url:      rawURL,
		redacted: redact(u),
		format:   opts.Format,
		headers:  opts.Headers.Clone(),
		gzip:     opts.Gzip,
		client:   opts.Client,
		maxBody:  opts.MaxBodyBytes,
		seed:     maphash.MakeSeed(),
	}
	if opts.IdempotencyHeader != "" {
		s.idemHeader = http.CanonicalHeaderKey(opts.IdempotencyHeader)
		var r [16]byte
		_, _ = rand.Read(r[:]) // crypto/rand.Read does not fail
		s.idemPrefix = hex.EncodeToString(r[:])
	}
	s.bodyTimeout = cmp.Or(opts.ResponseBodyTimeout, defaultResponseBodyTimeout)
	if s.maxBody == 0 {
		s.maxBody = defaultMaxBodyBytes
	}
	if s.client == nil {
		s.client, s.ownClient = newClient(), true
	} else {
		c := *s.client // the caller's Transport, Jar and Timeout; our redirect policy
		s.client = &c
	}
	s.client.CheckRedirect = keepBody(s.client.CheckRedirect, s.headers)
	s.secrets = secretsOf(u, s.headers)
	s.action = bulkAction(opts.Index)
	s.after = time.After
	switch s.format {
	case OTLP:
		s.otlp = newOTLPEncoder(opts, lookupEnv)
	case OTLPProtobuf:
		s.proto = newProtoEncoder(opts, lookupEnv)
	}
	return s, nil
}

// validHeaderName reports whether h is a token, as a header name must be.
func validHeaderName(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return h != ""
}

// Close closes the idle connections of the sink's own client. It does not
// touch a client given in Options. It is safe to call more than once and
// from any goroutine; it returns nil.
func (s *Sink) Close(ctx context.Context) error {
	if s.ownClient {
		s.client.CloseIdleConnections()
	}
	return nil
}
