package asynclog

// writerMessage returns the message of a record written through the
// io.Writer front end. Placeholder until the front end lands.
func writerMessage(b []byte) string { return "" }
