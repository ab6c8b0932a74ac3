//! The filter language (ss-compatible): lexer, parser and evaluator.
