// Main body and attachment selection (CONTRACTS.md 1): the text/plain and text/html of the first
// body part — multipart/alternative offers each, multipart/related uses its root (RFC 2387 3.2) —
// and every other leaf as an attachment (a message/rfc822 part counts as one attachment).
#include "mime/internal.h"

namespace mime::detail {
namespace {

bool is_attachment_disposition(const Part& p) {
  return p.disposition == "attachment";
}

// RFC 2387 3.2: the root is the part whose Content-ID is the "start" parameter, else the first.
int related_root(const Message& m, const Part& p) {
  if (p.children.empty()) return -1;
  if (auto it = p.params.find("start"); it != p.params.end()) {
    std::string start = it->second;
    if (start.size() >= 2 && start.front() == '<' && start.back() == '>')
      start = start.substr(1, start.size() - 2);
    for (int c : p.children)
      if (m.parts[c].content_id == start) return c;
  }
  return p.children.front();
}

// Walks the first-body-part chain without recursion: alternatives are queued, other containers
// contribute only their first (or root) part.
void select_main(Message& m) {
  std::vector<int> queue{0};
  size_t steps = 0;
  while (!queue.empty() && steps++ < m.parts.size() + 1) {
    int index = queue.front();
    queue.erase(queue.begin());
    const Part& p = m.parts[index];
    if (index == 0 && p.is_message() && !p.children.empty()) {  // the whole message is an rfc822
      queue.insert(queue.begin(), p.children.front());
      continue;
    }
    if (p.is_multipart()) {
      if (p.children.empty()) continue;
      if (p.content_type == "multipart/alternative") {
        for (int c : p.children) queue.push_back(c);
      } else if (p.content_type == "multipart/related") {
        queue.insert(queue.begin(), related_root(m, p));
      } else {
        queue.insert(queue.begin(), p.children.front());
      }
      continue;
    }
    if (is_attachment_disposition(p) || !p.filename.empty()) continue;
    if (p.content_type == "text/plain" && m.text_part < 0)
      m.text_part = index;
    else if (p.content_type == "text/html" && m.html_part < 0)
      m.html_part = index;
  }
}

}  // namespace

void select_bodies(Message& m) {
  if (m.parts.empty()) return;
  select_main(m);
  // Attachments: leaves in document order (the table is in document order), not the main bodies,
  // and not the inside of an embedded message (the message/rfc822 part stands for all of it).
  std::vector<bool> inside_message(m.parts.size(), false);
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const Part& p = m.parts[i];
    if (p.parent >= 0 &&
        (inside_message[p.parent] || (m.parts[p.parent].is_message() && p.parent != 0)))
      inside_message[i] = true;
    if (inside_message[i]) continue;
    bool container_with_children = !p.children.empty() && (p.is_multipart() || i == 0);
    if (container_with_children) continue;
    if (static_cast<int>(i) == m.text_part || static_cast<int>(i) == m.html_part) continue;
    if (p.is_multipart() && p.body_size() == 0) continue;
    m.attachments.push_back(static_cast<int>(i));
  }
}

}  // namespace mime::detail
