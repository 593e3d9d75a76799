// A blocking HTTP/1.1 client for tests (Boost.Beast), plus a multipart body
// builder. Not for production: no timeouts beyond the socket's.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace imagen::jobs::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

inline HttpReply HttpCall(uint16_t port, boost::beast::http::verb verb, const std::string& target,
                          const std::vector<std::pair<std::string, std::string>>& headers = {},
                          const std::string& body = "") {
  namespace bh = boost::beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  bh::request<bh::string_body> req(verb, target, 11);
  req.set(bh::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  bh::write(sock, req);
  boost::beast::flat_buffer buf;
  bh::response_parser<bh::string_body> parser;
  parser.body_limit(256 << 20);
  boost::system::error_code ec;
  bh::read(sock, buf, parser, ec);
  HttpReply out;
  if (ec) {
    out.status = -1;
    out.body = ec.message();
    return out;
  }
  auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
  return out;
}

struct Multipart {
  std::string boundary = "----imagen-test-boundary";
  std::string body;
  Multipart& Field(const std::string& name, const std::string& value) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
    return *this;
  }
  Multipart& File(const std::string& name, const std::string& filename, const std::string& type,
                  const std::string& data) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename +
            "\"\r\nContent-Type: " + type + "\r\n\r\n" + data + "\r\n";
    return *this;
  }
  std::string Finish() const { return body + "--" + boundary + "--\r\n"; }
  std::string content_type() const { return "multipart/form-data; boundary=" + boundary; }
};

// A valid 1x1 PNG (with a distinguishing tEXt chunk when `tag` is given).
inline std::string TinyPng(const std::string& tag = "") {
  static const unsigned char head[] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00,
                                       0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                                       0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89};
  static const unsigned char idat[] = {0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf,
                                       0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00,
                                       0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  std::string out(reinterpret_cast<const char*>(head), sizeof(head));
  if (!tag.empty()) {
    // tEXt chunk (CRC not checked by the sniffer; decoders would, but the
    // test operations never decode).
    std::string data = "Comment" + std::string(1, '\0') + tag;
    uint32_t n = static_cast<uint32_t>(data.size());
    out += std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                       static_cast<char>(n)};
    out += "tEXt" + data + std::string(4, '\0');
  }
  out += std::string(reinterpret_cast<const char*>(idat), sizeof(idat));
  return out;
}

}  // namespace imagen::jobs::testing
