-- The record's trace context (W3C traceparent) when tracing is on: the submit's span, or a span of
-- its own for a record of a batch. Its workflow is started in this context later, by whichever
-- path starts it (the submit, the start window, the relay, recovery), so one trace follows it.
-- NULL when tracing was off at submit time.
ALTER TABLE records ADD COLUMN traceparent text;
