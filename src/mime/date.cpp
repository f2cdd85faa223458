// Dates (RFC 5322 3.3 and the obsolete forms of 4.3) to RFC 3339: day names and comments
// ignored, two- and three-digit years, obsolete zone names and military letters, numeric months
// and ISO dates accepted; anything without day, month, year, hour and minute is nullopt.
#include <cstdio>

#include "mime/internal.h"

namespace mime {
namespace {

struct DateParts {
  int year = -1, month = -1, day = -1, hour = -1, minute = -1, second = 0;
  bool zone_known = false;
  int zone_minutes = 0;  // east of UTC
};

std::vector<std::string> date_tokens(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  int nesting = 0;
  for (char c : s) {
    if (nesting > 0) {  // RFC 5322 3.2.2 comments
      if (c == '(')
        ++nesting;
      else if (c == ')')
        --nesting;
      continue;
    }
    if (c == '(') {
      ++nesting;
    } else if (detail::is_space(c) || c == ',') {
    } else {
      cur += c;
      continue;
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    cur.clear();
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

int month_from_name(std::string_view t) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  if (t.size() < 3) return -1;
  std::string m = detail::to_lower(t.substr(0, 3));
  for (int i = 0; i < 12; ++i)
    if (m == kMonths[i]) return i + 1;
  return -1;
}

// RFC 5322 4.3 obs-zone. Military letters are "-0000" (their sign was wrong in RFC 822).
bool zone_from_name(std::string_view t, DateParts& d) {
  struct Zone {
    const char* name;
    int hours;
  };
  static constexpr Zone kZones[] = {{"ut", 0},   {"utc", 0},  {"gmt", 0},  {"z", 0},
                                    {"est", -5}, {"edt", -4}, {"cst", -6}, {"cdt", -5},
                                    {"mst", -7}, {"mdt", -6}, {"pst", -8}, {"pdt", -7}};
  size_t alpha = 0;
  while (alpha < t.size() && ((t[alpha] | 0x20) >= 'a' && (t[alpha] | 0x20) <= 'z')) ++alpha;
  std::string name = detail::to_lower(t.substr(0, alpha));
  for (const auto& z : kZones) {
    if (name == z.name ||
        (name.size() > 3 && name.rfind(z.name, 0) == 0 && std::string_view(z.name).size() == 3)) {
      d.zone_known = true;
      d.zone_minutes = z.hours * 60;
      return true;
    }
  }
  return name.size() == 1;  // military zone: offset unknown
}

bool parse_time(std::string_view t, DateParts& d) {
  int h = -1, m = -1, s = 0;
  char extra;
  std::string copy(t);
  int n = std::sscanf(copy.c_str(), "%d:%d:%d%c", &h, &m, &s, &extra);
  if (n < 2 || h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 60) return false;
  d.hour = h;
  d.minute = m;
  d.second = s;
  return true;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

std::optional<std::string> parse_date(std::string_view value) {
  DateParts d;
  std::vector<int> numbers;
  for (const std::string& t : date_tokens(value)) {
    if (t.find(':') != std::string::npos) {
      if (d.hour < 0 && parse_time(t, d)) continue;
    } else if ((t[0] == '+' || t[0] == '-') && t.size() == 5 &&
               all_digits(std::string_view(t).substr(1))) {
      int hh = std::stoi(t.substr(1, 2)), mm = std::stoi(t.substr(3, 2));
      if (mm < 60 && !d.zone_known) {
        d.zone_known =
            !(t[0] == '-' && hh == 0 && mm == 0);  // RFC 5322 3.3: -0000 = unknown offset
        d.zone_minutes = (t[0] == '-' ? -1 : 1) * (hh * 60 + mm);
      }
    } else if (all_digits(t) && t.size() <= 4) {
      if (d.hour < 0 || numbers.size() < 3) numbers.push_back(std::stoi(t));
    } else if (t.size() == 10 && t[4] == '-' && t[7] == '-' && all_digits(t.substr(0, 4))) {
      std::sscanf(t.c_str(), "%d-%d-%d", &d.year, &d.month, &d.day);  // ISO 8601 date
    } else if (int m = month_from_name(t); m > 0 && d.month < 0) {
      d.month = m;
    } else if (d.hour >= 0) {
      zone_from_name(t, d);
    }
  }
  // day month year (RFC 5322), or day month-number year, or month-name day ... year (asctime).
  if (d.day < 0) {
    size_t k = 0;
    if (k < numbers.size()) d.day = numbers[k++];
    if (d.month < 0 && k < numbers.size()) d.month = numbers[k++];
    if (k < numbers.size()) d.year = numbers[k++];
    if (d.day > 31 && d.year >= 1 && d.year <= 31) std::swap(d.day, d.year);  // "2003 Jul 1"
  }
  if (d.year < 0 || d.month < 1 || d.month > 12 || d.hour < 0) return std::nullopt;
  if (d.year < 50)
    d.year += 2000;  // RFC 5322 4.3: two-digit years
  else if (d.year < 1000)
    d.year += 1900;
  if (d.day < 1 || d.day > days_in_month(d.year, d.month) || d.year > 9999) return std::nullopt;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", d.year, d.month, d.day, d.hour,
                d.minute, d.second);
  std::string out = buf;
  if (!d.zone_known) {
    out += "-00:00";  // RFC 3339 4.3: UTC known, local offset unknown
  } else if (d.zone_minutes == 0) {
    out += 'Z';
  } else {
    int z = d.zone_minutes < 0 ? -d.zone_minutes : d.zone_minutes;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", d.zone_minutes < 0 ? '-' : '+', z / 60, z % 60);
    out += buf;
  }
  return out;
}

}  // namespace mime
