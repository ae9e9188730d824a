// SpanCore — see Package.swift for this package's concern.
