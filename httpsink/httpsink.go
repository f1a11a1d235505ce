package httpsink

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

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

// newClient returns the default client: keep-alive, bounded connect, TLS
// and response-header waits. Each request's ctx bounds the whole exchange.
func newClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}
}

// maxRedirects is how many redirects in a row a request follows, as
// Go's default policy does.
const maxRedirects = 10

// errRedirectLoop stops a request after maxRedirects redirects.
var errRedirectLoop = errors.New("stopped after " + strconv.Itoa(maxRedirects) + " redirects")

// keepBody wraps a client's CheckRedirect (nil: Go's default). Go follows
// 301, 302 and 303 by turning the POST into a GET without the body, which
// would lose the batch while the page it lands on answers 200: such a
// redirect is not followed, so that the sink sees the 3xx and reports it.
// 307 and 308 resend the POST with its body and are left to next, without
// a Referer (which would quote the URL's query) and, to another origin
// than the sink's URL, without the configured headers: Go drops only
// Authorization and cookies, and only for another host.
func keepBody(next func(*http.Request, []*http.Request) error, configured http.Header) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if req.Method != via[0].Method {
			return http.ErrUseLastResponse
		}
		req.Header.Del("Referer")
		if origin(req.URL) != origin(via[0].URL) {
			for k := range configured {
				delete(req.Header, k) // as the sink set it, canonical or not
				req.Header.Del(k)
			}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return errRedirectLoop
		}
		return nil
	}
}

// origin returns u's scheme, host and port, the port made explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
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

// pending remembers a batch whose Write failed with a retryable error.
// The queue writes the records that were not delivered again (the whole
// batch, or its rest after [asynclog.Delivered]), so a Write whose records
// match key is that batch's retry: it goes on counting the batch's
// requests, and the records that the partial successes of its delivered
// requests refused are still reported when the batch ends.
type pending struct {
	key      uint64 // keyOf the records the queue will write again
	batch    uint64 // the batch's number, from 1; 0 if nothing is pending
	req      int    // index in the batch of the next request
	rejected int    // records refused in the partial successes of delivered requests
	msg      string // the first partial success's message
}

// keyOf hashes records' count, times and encodings. The queue's retry
// passes the same records, so a match means a retry; a new batch that only
// reuses the same buffers does not match. It is computed only around a
// failure, never on the common path.
func (s *Sink) keyOf(recs []asynclog.Record) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(recs)))
	h.Write(b[:])
	for i := range recs {
		binary.LittleEndian.PutUint64(b[:], uint64(recs[i].Time.UnixNano()))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(len(recs[i].Encoded)))
		h.Write(b[:])
		h.Write(recs[i].Encoded)
	}
	return h.Sum64()
}

// Write posts batch, split into requests of at most MaxBodyBytes, in
// order, one at a time, each with ctx. It returns nil once every request
// got a 2xx answer. Otherwise it stops at the first request that failed
// and returns an error wrapped with [asynclog.RetryAfter] or plain for a
// retryable failure, or [asynclog.Permanent] for a refusal; if earlier
// requests of the batch were delivered, the error is wrapped with
// [asynclog.Delivered] and their count, so that the queue counts them
// Delivered and writes (or gives to its fallback) only the rest. An OTLP
// partial success, and the items a bulk answer refused, come back as
// [asynclog.Partial] once the batch is done; with [ElasticBulk], Write
// first sends again, itself, the records refused with a per-item 429. It
// keeps no reference to batch after it returns.
func (s *Sink) Write(ctx context.Context, batch []asynclog.Record) error {
	if len(batch) == 0 {
		return nil
	}
	st := s.pending
	s.pending = pending{}
	if st.batch == 0 || st.key != s.keyOf(batch) {
		s.batches++
		st = pending{batch: s.batches}
	}
	defer s.trimBuffers()

	sent := 0
	for sent < len(batch) {
		n := s.encode(batch[sent:])
		rejected, msg, err := s.post(ctx, n, s.idempotencyKey(st))
		if err != nil {
			return s.stopped(err, batch[sent:], sent, st)
		}
		st.req++
		if len(s.bulk.retry) > 0 {
			r, m := s.resend(ctx, batch[sent:sent+n], &st)
			rejected += r
			msg = joinMsg(msg, m)
		}
		sent += n
		st.rejected += rejected
		if msg != "" && st.msg == "" {
			st.msg = msg
		}
	}
	if st.rejected > 0 || st.msg != "" {
		err := fmt.Errorf("httpsink: POST %s: partial success: %d log records rejected", s.redacted, st.rejected)
		if st.msg != "" {
			err = fmt.Errorf("%w: %s", err, st.msg)
		}
		return asynclog.Partial(err, st.rejected)
	}
	return nil
}

// idempotencyKey returns the key of the batch's next request, or "" if
// the sink sends none: the sink's random prefix, the batch's number and
// the request's index in the batch. The queue's retry of a batch, or of
// its rest, starts at the request that failed, and the split of the rest
// is the same as it was within the batch, so each request keeps its key.
func (s *Sink) idempotencyKey(st pending) string {
	if s.idemHeader == "" {
		return ""
	}
	return s.idemPrefix + "-" + strconv.FormatUint(st.batch, 10) + "-" + strconv.Itoa(st.req)
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

// stopped returns the error of a Write that stopped at a failed request,
// with sent records of the batch delivered before it and rest not. A
// retryable failure leaves the batch pending for the queue's retry.
func (s *Sink) stopped(err error, rest []asynclog.Record, sent int, st pending) error {
	if !asynclog.IsPermanent(err) {
		st.key = s.keyOf(rest)
		s.pending = st
	} else if st.rejected > 0 {
		// Delivered has no room for them: they count as Delivered.
		err = fmt.Errorf("%w (earlier requests of the batch: partial success: %d log records rejected)", err, st.rejected)
	}
	if sent == 0 {
		return err
	}
	return asynclog.Delivered(err, sent)
}

// trimBuffers drops buffers that one huge batch grew.
func (s *Sink) trimBuffers() {
	if cap(s.body) > keepBufBytes {
		s.body = nil
	}
	if s.zbuf.Cap() > keepBufBytes {
		s.zbuf = bytes.Buffer{}
	}
	if s.otlp != nil && cap(s.otlp.rec) > keepBufBytes {
		s.otlp.rec = nil
	}
	if s.proto != nil && cap(s.proto.rec) > keepBufBytes {
		s.proto.rec = nil
	}
}

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

// post sends s.body, holding n records, with the idempotency key key
// (none if ""), and classifies the answer. For an
// OTLP 2xx it returns the partial success's rejected count and message.
func (s *Sink) post(ctx context.Context, n int, key string) (rejected int, msg string, err error) {
	payload := s.payload()
	if s.gzip {
		s.zbuf.Reset()
		if s.zw == nil {
			s.zw = gzip.NewWriter(&s.zbuf)
		} else {
			s.zw.Reset(&s.zbuf)
		}
		_, _ = s.zw.Write(payload) // writes to a bytes.Buffer do not fail
		_ = s.zw.Close()
		payload = s.zbuf.Bytes()
	}
	// Cancelling rctx ends the request, the reading of its body included.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url, nil)
	if err != nil {
		return 0, "", asynclog.Permanent(fmt.Errorf("httpsink: build request for %s: %w", s.redacted, s.redactErr(err)))
	}
	s.bodyReader.attach(req, payload)
	defer func() {
		if !s.bodyReader.release() {
			// The transport still holds payload: leave it that buffer.
			if s.gzip {
				s.zbuf = bytes.Buffer{}
			} else {
				s.body = nil
			}
		}
	}()
	for k, v := range s.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", s.contentType())
	if key != "" {
		req.Header.Set(s.idemHeader, key)
	}
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}

	resp, err := s.client.Do(req)
	if err != nil {
		// Network errors are retried; the queue stops once ctx is done.
		loop := errors.Is(err, errRedirectLoop)
		err = fmt.Errorf("httpsink: POST %s (%d records): %w", s.redacted, n, s.redactErr(err))
		if loop {
			err = asynclog.Permanent(err)
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	// The status is in: reading the body gets ResponseBodyTimeout at most.
	timer := time.AfterFunc(s.bodyTimeout, cancel)
	defer timer.Stop()
	read := maxResponseBytes
	s.bulk = bulkAnswer{retry: s.bulk.retry[:0]}
	if resp.StatusCode/100 == 2 && s.format == ElasticBulk {
		s.bulk = parseBulk(io.LimitReader(resp.Body, maxBulkResponseBytes), n, s.bulk.retry)
	}
	if resp.StatusCode/100 == 2 && s.format != OTLP && s.format != OTLPProtobuf {
		read = 0
	}
	s.respBuf = readPrefix(s.respBuf[:0], resp.Body, read)
	// Drain what is left (bounded) so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))

	protoAnswer := isProtobuf(resp.Header.Get("Content-Type"))
	if resp.StatusCode/100 == 2 {
		switch {
		case s.format == OTLPProtobuf && protoAnswer:
			rejected, msg = parsePartialSuccessProto(s.respBuf)
		case s.format == OTLP || s.format == OTLPProtobuf:
			rejected, msg = parsePartialSuccess(s.respBuf)
		case s.format == ElasticBulk:
			rejected, msg = s.bulk.refused, s.bulk.msg
		}
		if msg != "" {
			msg = quoteBody([]byte(s.redactText(msg)))
		}
		return rejected, msg, nil
	}
	body := string(s.respBuf)
	if protoAnswer {
		// An OTLP receiver's google.rpc.Status: quote its message.
		if m, ok := protoStatusMessage(s.respBuf); ok {
			body = m
		}
	}
	se := &StatusError{
		URL:        s.redacted,
		StatusCode: resp.StatusCode,
		Body:       quoteBody([]byte(s.redactText(body))),
		Records:    n,
	}
	if resp.StatusCode/100 == 3 {
		if loc, lerr := resp.Location(); lerr == nil {
			se.Location = s.redactText(redact(loc))
		}
	}
	err = se
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return 0, "", asynclog.RetryAfter(err, d)
		}
		return 0, "", err
	}
	return 0, "", asynclog.Permanent(err)
}

// StatusError is a non-2xx answer, a redirect that was not followed
// included. Errors from [Sink.Write] wrap it, so errors.As finds it under
// [asynclog.Permanent], [asynclog.RetryAfter] or [asynclog.Delivered]. Its
// Body and Location went through the sink's redaction.
type StatusError struct {
	URL        string // scheme, host and path only: no user info, no query
	StatusCode int
	Body       string // the response body's first bytes, quoted as printable text
	Records    int    // records in the refused request
	// Location is a redirect's target, resolved against the request's
	// URL, with scheme, host and path only; empty for other answers or if
	// the header was missing or malformed.
	Location string
}

// Error reports the request, the status and the body's first bytes.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("httpsink: POST %s (%d records): %d %s", e.URL, e.Records, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Location != "" {
		msg += " to " + e.Location + " not followed"
		switch e.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
			msg += " (it would resend the POST as a GET without the body)"
		}
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// isProtobuf reports whether a Content-Type names protobuf.
func isProtobuf(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, "application/x-protobuf") || strings.EqualFold(mt, "application/protobuf")
}

// readPrefix appends up to limit bytes of r to b.
func readPrefix(b []byte, r io.Reader, limit int) []byte {
	for len(b) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		end := min(cap(b), limit)
		m, err := r.Read(b[len(b):end])
		b = b[:len(b)+m]
		if err != nil {
			break
		}
	}
	return b
}

// quoteBody returns the first errBodyBytes of a response body as one line
// of printable text: line breaks and tabs become spaces, other control
// characters are dropped.
func quoteBody(b []byte) string {
	b = bytes.TrimSpace(b)
	cut := len(b) > errBodyBytes
	if cut {
		b = b[:errBodyBytes]
	}
	q := strings.Map(func(r rune) rune {
		switch {
		case unicode.IsGraphic(r):
			return r
		case unicode.IsSpace(r):
			return ' '
		}
		return -1
	}, strings.ToValidUTF8(string(b), "\ufffd"))
	if cut {
		q += "..."
	}
	return q
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date,
// relative to now. A date in the past means no wait.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
