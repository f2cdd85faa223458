// The line-level markers of reply extraction (see reply_markers.h). The phrases are those the mail
// clients write (Gmail, Outlook, Apple Mail, Thunderbird, Yahoo) in their common languages, as the
// public reply parsers list them (email_reply_parser, talon, mail-parser-reply). ASCII letters
// compare case-insensitively; other bytes (UTF-8) exactly.
#include "delivery/reply_markers.h"

#include <cstddef>

namespace delivery::reply {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
bool space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}

bool equals_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}
bool starts_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equals_ci(s.substr(0, prefix.size()), prefix);
}
bool ends_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && equals_ci(s.substr(s.size() - suffix.size()), suffix);
}
// `word` somewhere in `s` with a space on each side.
bool has_word_ci(std::string_view s, std::string_view word) {
  for (size_t i = 1; i + word.size() < s.size(); ++i)
    if (s[i - 1] == ' ' && s[i + word.size()] == ' ' && equals_ci(s.substr(i, word.size()), word))
      return true;
  return false;
}
bool has_digit(std::string_view s) {
  for (char c : s)
    if (digit(c)) return true;
  return false;
}
template <size_t N>
bool any_equal(std::string_view s, const std::string_view (&list)[N]) {
  for (auto item : list)
    if (equals_ci(s, item)) return true;
  return false;
}
// Trailing ASCII spaces and no-break spaces (French puts U+00A0 before ':').
std::string_view rtrim_nbsp(std::string_view s) {
  for (;;) {
    s = rtrim(s);
    if (s.size() >= 2 && s.substr(s.size() - 2) == "\xC2\xA0")
      s.remove_suffix(2);
    else
      return s;
  }
}
size_t word_count(std::string_view s) {
  size_t words = 0;
  bool in_word = false;
  for (char c : s) {
    if (c == ' ') {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++words;
    }
  }
  return words;
}

// Verbs that end an attribution, before its ':' (English "wrote", French "a écrit", Spanish
// "escribió", Russian "написал(а)"...), and verbs that stand between the date and the name
// (German "Am … schrieb Hans:", Dutch "Op … schreef Jan:", Scandinavian "Den … skrev Sven:").
constexpr std::string_view kEndVerbs[] = {
    "wrote",      "writes",     "a écrit",  "escribió", "escreveu",    "ha scritto", "scrisse",
    "napisał(a)", "napisał",    "napisała", "pisze",    "napsal(a)",   "napsal",     "napsala",
    "написал(а)", "написал",    "написала", "пишет",    "написав(ла)", "написав",    "пише",
    "kirjoitti",  "yazdı",      "写道",     "寫道",     "작성",        "đã viết",    "a scris",
    "írta",       "geschreven", "skrev",    "schrieb",  "schreef"};
constexpr std::string_view kMiddleVerbs[] = {"schrieb", "schreef", "skrev"};
// The word attributions begin with: "On", "Le", "Am", "El", "Op", "Il", "Em", "Den", "På"...
constexpr std::string_view kPrefixes[] = {"On ",  "Le ",  "Am ",   "El ",       "Op ",
                                          "Il ",  "Em ",  "Den ",  "På ",       "W dniu ",
                                          "Vào ", "Dne ", "Dana ", "Il giorno "};

constexpr std::string_view kFrom[] = {"From",      "Von",    "De",        "Da",      "Van",
                                      "Från",      "Fra",    "Od",        "От",      "Від",
                                      "Lähettäjä", "Kimden", "Feladó",    "De la",   "发件人",
                                      "寄件者",    "差出人", "보낸 사람", "Afzender"};
constexpr std::string_view kSent[] = {
    "Sent",       "Date",     "Gesendet",   "Datum",    "Envoyé",    "Enviado",   "Enviado el",
    "Enviada em", "Fecha",    "Data",       "Inviato",  "Verzonden", "Skickat",   "Sendt",
    "Wysłano",    "Wysłane",  "Отправлено", "Дата",     "Надіслано", "Lähetetty", "Gönderildi",
    "Tarih",      "Odesláno", "Elküldve",   "发送时间", "日期",      "寄件日期",  "送信日時",
    "보낸 날짜",  "Sent at",  "Verstuurd"};
constexpr std::string_view kTo[] = {
    "To",   "An",   "À",    "A",       "Para",          "Aan",    "Till", "Til",      "Do",
    "Кому", "Komu", "Kime", "Címzett", "Vastaanottaja", "收件人", "宛先", "받는 사람"};
constexpr std::string_view kCc[] = {"Cc",    "Kopie",   "Копия", "Kopia", "Kopio",
                                    "Bilgi", "Másolat", "抄送",  "副本",  "Kopi"};
constexpr std::string_view kSubject[] = {
    "Subject", "Betreff", "Objet", "Asunto", "Assunto", "Oggetto", "Onderwerp",
    "Ämne",    "Emne",    "Temat", "Тема",   "Aihe",    "Konu",    "Tárgy",
    "Předmět", "主题",    "主旨",  "件名",   "제목",    "Subiect", "Tema"};

// The phrase between the dashes of "-----Original Message-----" and its kin.
constexpr std::string_view kOriginalPhrases[] = {"Original Message",
                                                 "Forwarded message",
                                                 "Ursprüngliche Nachricht",
                                                 "Ursprüngliche Mitteilung",
                                                 "Weitergeleitete Nachricht",
                                                 "Message d'origine",
                                                 "Message d’origine",
                                                 "Message transféré",
                                                 "Mensaje original",
                                                 "Mensaje reenviado",
                                                 "Messaggio originale",
                                                 "Messaggio inoltrato",
                                                 "Oorspronkelijk bericht",
                                                 "Doorgestuurd bericht",
                                                 "Исходное сообщение",
                                                 "Пересылаемое сообщение",
                                                 "Ursprungligt meddelande",
                                                 "Vidarebefordrat meddelande",
                                                 "Opprinnelig melding",
                                                 "Oprindelig meddelelse",
                                                 "Mensagem original",
                                                 "Mensagem encaminhada",
                                                 "Wiadomość oryginalna",
                                                 "Oryginalna wiadomość",
                                                 "Alkuperäinen viesti",
                                                 "Původní zpráva",
                                                 "Orijinal Mesaj",
                                                 "Eredeti üzenet",
                                                 "原始邮件",
                                                 "原始郵件",
                                                 "元のメッセージ",
                                                 "Original Nachricht"};
// Apple Mail's forward introductions (no dashes).
constexpr std::string_view kForwardIntros[] = {
    "Begin forwarded message:",           "Anfang der weitergeleiteten Nachricht:",
    "Début du message réexpédié :",       "Inicio del mensaje reenviado:",
    "Inizio messaggio inoltrato:",        "Begin doorgestuurd bericht:",
    "Начало переадресованного сообщения:"};

// "Sent from my <device>": the upstream email_reply_parser rule (1 to 3 words, here 4), and its
// translations; the device part holds no punctuation ("Sent from my desk, is …" is text).
constexpr std::string_view kMyDevicePrefixes[] = {
    "Sent from my ",     "Sent from my mobile ",  "Sent via ",
    "Envoyé de mon ",    "Envoyé depuis mon ",    "Gesendet von meinem ",
    "Von meinem ",       "Enviado desde mi ",     "Enviado do meu ",
    "Enviado de meu ",   "Enviado desde ",        "Inviato da ",
    "Inviato dal mio ",  "Verstuurd vanaf mijn ", "Verzonden vanaf mijn ",
    "Skickat från min ", "Sendt fra min ",        "Wysłane z mojego ",
    "Wysłano z mojego ", "Отправлено с ",         "Отправлено из ",
    "Надіслано з "};
// "Sent from <app>" sign-offs of mail apps (webmail and mobile), and "Get Outlook for iOS".
constexpr std::string_view kAppSignoffs[] = {
    "Sent from Outlook",    "Sent from Mail for Windows",
    "Sent from Yahoo Mail", "Sent from the all new AOL app",
    "Sent from AOL",        "Sent from Gmail",
    "Sent from ProtonMail", "Sent from Proton Mail",
    "Sent with ProtonMail", "Sent with Proton Mail",
    "Sent from Samsung",    "Sent from Xiaomi",
    "Sent from Huawei",     "Sent from BlueMail",
    "Sent from myMail",     "Sent from Mail.ru",
    "Sent from Yandex",     "Sent from Spark",
    "Sent from Edison",     "Sent from my iPhone",
    "Get Outlook for ",     "Obtener Outlook para "};

bool plain_words(std::string_view s) {
  for (char c : s)
    if (c == ',' || c == ';' || c == ':' || c == '(' || c == ')' || c == '"' || c == '?')
      return false;
  return true;
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && (space(s.front()) || s.front() == '\n')) s.remove_prefix(1);
  return rtrim(s);
}

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && (space(s.back()) || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool is_blank(std::string_view line) {
  return trim(line).empty();
}

bool may_begin_attribution(std::string_view line) {
  line = trim(line);
  if (line.size() > kMaxAttribution) return false;
  for (auto prefix : kPrefixes)
    if (starts_ci(line, prefix)) return true;
  return !line.empty() && digit(line.front());
}

Attribution attribution(std::string_view s) {
  s = trim(s);
  if (s.size() < 6 || s.size() > kMaxAttribution) return Attribution::none;
  if (s.back() == ':')
    s.remove_suffix(1);
  else if (s.size() > 3 && s.substr(s.size() - 3) == "\xEF\xBC\x9A")  // U+FF1A fullwidth colon
    s.remove_suffix(3);
  else
    return Attribution::none;
  s = rtrim_nbsp(s);
  bool verb = false;
  for (auto end : kEndVerbs) verb = verb || ends_ci(s, end);
  for (auto middle : kMiddleVerbs) verb = verb || has_word_ci(s, middle);
  bool strong = false;
  for (auto prefix : kPrefixes) strong = strong || starts_ci(s, prefix);
  // A date: where the attribution begins, or anywhere beside the sender's address.
  strong = strong || digit(s.front()) || (has_digit(s) && s.find('@') != std::string_view::npos);
  if (verb) return strong ? Attribution::strong : Attribution::weak;
  // Gmail in Russian, Japanese, Korean...: "<date>, <name> <address>:" with no verb.
  if (!s.empty() && s.back() == '>' && s.find('@') != std::string_view::npos && has_digit(s))
    return Attribution::weak;
  return Attribution::none;
}

Field header_field(std::string_view line) {
  std::string_view s = trim(line);
  for (int i = 0; i < 2 && !s.empty() && s.front() == '*'; ++i) s.remove_prefix(1);
  size_t colon = s.substr(0, 48).find(':');
  size_t wide = s.substr(0, 48).find("\xEF\xBC\x9A");
  if (wide < colon) colon = wide;
  if (colon == std::string_view::npos || colon == 0) return Field::none;
  std::string_view label = rtrim_nbsp(s.substr(0, colon));
  while (!label.empty() && label.back() == '*') label.remove_suffix(1);
  if (any_equal(label, kFrom)) return Field::from;
  if (any_equal(label, kSent)) return Field::sent;
  if (any_equal(label, kTo)) return Field::to;
  if (any_equal(label, kCc)) return Field::cc;
  if (any_equal(label, kSubject)) return Field::subject;
  return Field::none;
}

bool is_original_message(std::string_view line) {
  std::string_view t = trim(line);
  if (t.size() < 6 || t.size() > 120) return false;
  if (t.front() == '-') {
    size_t lead = t.find_first_not_of('-');
    size_t last = t.find_last_not_of('-');
    if (lead == std::string_view::npos || lead < 2 || t.size() - 1 - last < 2) return false;
    return any_equal(trim(t.substr(lead, last + 1 - lead)), kOriginalPhrases);
  }
  return t.back() == ':' && any_equal(t, kForwardIntros);
}

bool is_separator(std::string_view line) {
  std::string_view t = trim(line);
  if (t.size() < 5 || (t[0] != '-' && t[0] != '_' && t[0] != '=')) return false;
  return t.find_first_not_of(t[0]) == std::string_view::npos;
}

bool is_mobile_signoff(std::string_view line) {
  std::string_view t = trim(line);
  if (t.size() < 8 || t.size() > 100) return false;
  for (auto app : kAppSignoffs)
    if (starts_ci(t, app)) return word_count(t) <= 10;
  while (!t.empty() && (t.back() == '.' || t.back() == '!')) t.remove_suffix(1);
  for (auto prefix : kMyDevicePrefixes) {
    if (!starts_ci(t, prefix)) continue;
    std::string_view device = t.substr(prefix.size());
    size_t words = word_count(device);
    return words >= 1 && words <= 4 && plain_words(device);
  }
  return false;
}

}  // namespace delivery::reply
