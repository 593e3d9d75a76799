// Hand-built hostile images for tests (header only, test code only): a PNG
// whose embedded ICC profile makes lcms fail with a message that quotes raw
// profile bytes (>= 0x80), a PNG that passes a chunk walk but whose pixel
// data is corrupt, and a JPEG whose header lies about its size. Built byte
// by byte so that no encoder can "fix" them. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "vips/vips8"

namespace imagen::imaging::testing {

inline void PutBe32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (24 - 8 * i)) & 0xff));
}

inline uint32_t Crc32(const std::string& s) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char b : s) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}

// A PNG chunk: length, type, data, CRC.
inline std::string PngChunk(const std::string& type, const std::string& data) {
  std::string out;
  PutBe32(out, static_cast<uint32_t>(data.size()));
  const std::string typed = type + data;
  out += typed;
  PutBe32(out, Crc32(typed));
  return out;
}

// A zlib stream holding `data` in one stored (uncompressed) block.
inline std::string ZlibStored(const std::string& data) {
  std::string z = "\x78\x01";
  const auto n = static_cast<uint16_t>(data.size());
  z.push_back(1);  // final block, stored
  z.push_back(static_cast<char>(n & 0xff));
  z.push_back(static_cast<char>(n >> 8));
  z.push_back(static_cast<char>(~n & 0xff));
  z.push_back(static_cast<char>((~n >> 8) & 0xff));
  z += data;
  uint32_t a = 1, b = 0;
  for (unsigned char c : data) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  PutBe32(z, (b << 16) | a);
  return z;
}

// The raw bytes lcms quotes in its error ("Unknown MPE type '...' found").
inline std::string IccGarbageSignature() { return std::string("\xff\xfe\x80\x81", 4); }

// An RGB display profile whose header and tag table are well formed, with
// DToB/AToB tags of type 'mpet' holding one element of an unknown type.
inline std::string MalformedIccProfile() {
  std::string tag = "mpet";
  PutBe32(tag, 0);                            // reserved
  tag += std::string("\x00\x03\x00\x03", 4);  // 3 in, 3 out channels
  PutBe32(tag, 1);                            // one element
  PutBe32(tag, 24);                           // at offset 24 of the tag
  PutBe32(tag, 8);                            // of 8 bytes
  tag += IccGarbageSignature();               // its unknown type
  PutBe32(tag, 0);
  const char* sigs[] = {"D2B0", "D2B1", "D2B2", "D2B3", "A2B0", "A2B1", "A2B2"};
  const uint32_t count = 7;
  const uint32_t data_at = 128 + 4 + 12 * count;
  std::string p;
  PutBe32(p, data_at + static_cast<uint32_t>(tag.size()));
  p += "lcms";
  PutBe32(p, 0x04200000);  // version 4.2
  p += "mntrRGB XYZ ";
  p += std::string(12, '\0');  // date
  p += "acsp";
  p.resize(128, '\0');
  const uint32_t d50[] = {0x0000f6d6, 0x00010000, 0x0000d32d};  // s15.16
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 4; ++k) p[68 + 4 * i + k] = static_cast<char>((d50[i] >> (24 - 8 * k)) & 0xff);
  }
  PutBe32(p, count);
  for (const char* sig : sigs) {
    p += sig;
    PutBe32(p, data_at);
    PutBe32(p, static_cast<uint32_t>(tag.size()));
  }
  return p + tag;
}

// A small sRGB PNG (written by libvips) of w x h grey pixels.
inline std::string PlainPng(int w = 8, int h = 8) {
  vips::VImage img = (vips::VImage::black(w, h, vips::VImage::option()->set("bands", 3)) + 100)
                         .cast(VIPS_FORMAT_UCHAR)
                         .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  void* buf = nullptr;
  size_t len = 0;
  img.write_to_buffer(".png", &buf, &len, vips::VImage::option()->set("strip", true));
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

// PlainPng with an iCCP chunk (after IHDR) carrying MalformedIccProfile().
inline std::string MalformedIccPng() {
  const std::string png = PlainPng();
  const std::string iccp = std::string("bad\0\0", 5) + ZlibStored(MalformedIccProfile());
  return png.substr(0, 33) + PngChunk("iCCP", iccp) + png.substr(33);
}

// A PNG whose chunks are intact (valid CRCs, IEND present) but whose IDAT
// holds no valid zlib stream: a submit-time check passes, decoding fails.
inline std::string CorruptPixelsPng() {
  const std::string png = PlainPng(64, 64);
  std::string out = png.substr(0, 33);
  for (size_t pos = 33; pos + 12 <= png.size();) {
    const uint32_t len = (static_cast<uint8_t>(png[pos]) << 24) | (static_cast<uint8_t>(png[pos + 1]) << 16) |
                         (static_cast<uint8_t>(png[pos + 2]) << 8) | static_cast<uint8_t>(png[pos + 3]);
    const std::string type = png.substr(pos + 4, 4);
    std::string data = png.substr(pos + 8, len);
    if (type == "IDAT") data.assign(data.size(), '\x5a');
    out += PngChunk(type, data);
    pos += 12 + len;
  }
  return out;
}

}  // namespace imagen::imaging::testing
