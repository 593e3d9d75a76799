// Just enough XML for S3 responses (error documents, ListObjectsV2,
// multipart upload): element text by tag name, no namespaces, no DTDs, no
// attributes. S3 response bodies are flat and machine-written, so a scanner is
// enough; a malformed body yields empty results, never a crash. Pure
// functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imagen::jobs {

// Raw inner XML of every <tag>...</tag> at any depth, in document order
// (<tag/> yields ""). Nested elements with the same name are not supported.
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag);
// Unescaped text of the first <tag> element, or nullopt when there is none.
std::optional<std::string> XmlText(std::string_view xml, std::string_view tag);
// &lt; &gt; &amp; &quot; &apos; and numeric character references.
std::string XmlUnescape(std::string_view s);
std::string XmlEscape(std::string_view s);

}  // namespace imagen::jobs
