// Bounds on chunked request framing that Beast's parser (Boost 1.81) does not
// enforce itself: it buffers a chunk-size line until its CRLF arrives and the
// last chunk's trailer section until its blank line, however long either is.
// The server checks what the parser left unconsumed after each read with these
// pure functions. Thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace imagen::http {

struct ChunkLimits {
  size_t max_line = 4096;   // chunk-size line incl. extensions, without CRLF
  size_t max_trailers = 0;  // trailer section incl. its final CRLF
};

enum class ChunkVerdict { kOk, kLineTooLong, kTrailersTooLarge };

// `pending` is what the parser left unconsumed while it waits inside a chunked
// body: an incomplete chunk-size line (maybe after the previous chunk's CRLF),
// or a complete last-chunk line followed by an incomplete trailer section.
ChunkVerdict CheckPendingChunkBytes(std::string_view pending, const ChunkLimits& limits);

// Size of the trailer section (incl. its final CRLF) in `rest`, which starts
// at the CRLF that ends the last-chunk line; npos while it is incomplete.
size_t TrailerSectionSize(std::string_view rest);

}  // namespace imagen::http
