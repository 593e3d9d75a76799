#include "http/chunk_guard.h"

namespace imagen::http {

ChunkVerdict CheckPendingChunkBytes(std::string_view pending, const ChunkLimits& limits) {
  // After a chunk's data the parser keeps its CRLF with the next line.
  if (pending.starts_with("\r\n")) pending.remove_prefix(2);
  size_t eol = pending.find("\r\n");
  if (eol == std::string_view::npos) {
    return pending.size() > limits.max_line ? ChunkVerdict::kLineTooLong : ChunkVerdict::kOk;
  }
  // A complete line the parser did not consume is the last chunk's: it waits
  // for the end of the trailer section.
  if (eol > limits.max_line) return ChunkVerdict::kLineTooLong;
  size_t trailers = pending.size() - eol - 2;
  return trailers > limits.max_trailers ? ChunkVerdict::kTrailersTooLarge : ChunkVerdict::kOk;
}

size_t TrailerSectionSize(std::string_view rest) {
  size_t eom = rest.find("\r\n\r\n");
  if (eom == std::string_view::npos) return std::string_view::npos;
  return eom + 4 - 2;
}

}  // namespace imagen::http
