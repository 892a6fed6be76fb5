/* country.c - the country table and its lookups.
 *
 * How the table was made (so it can be checked and redone):
 *  - alpha-2, alpha-3 and English names: ISO 3166-1 as shipped in Debian's
 *    iso-codes package (iso_3166-1.json), the "common name" where ISO gives
 *    one (Bolivia, Iran, Laos, South Korea, Vietnam ...).  Plus Kosovo
 *    XK/XKX, which is user-assigned, not ISO.
 *  - Japanese names: iso-codes' Japanese translation, with the short forms
 *    MOFA's own pages use put in by hand (米国, 英国, 韓国, 北朝鮮, ロシア,
 *    イラン, ジョージア, キルギス, エスワティニ, 台湾, バチカン, ...).
 *  - MOFA codes, ANPI_MOFA_SEEN: every <country><cd> in the eight
 *    newarrivalL snapshots of 2026-01..04 (FEEDS.md §3.1).  Most are the
 *    dialling code zero-padded ("0051" ペルー).  The others were placed by
 *    MOFA's own ordering: the 広域情報 2026C021 lists every country of every
 *    area, sorted in gojūon order within an area with regions last, and the
 *    2026 mails name their embassy (koukanCd):
 *        1000 米国, 1808 ハワイ (-> US), 9001 カナダ, 9007 ロシア (領事メール
 *        "在ロシア日本国大使館"), 0007 カザフスタン (Europe block, カ slot:
 *        MOFA files Central Asia under 欧州), 9039 バチカン, 9381 コソボ, 9689 仏領ポリネシア,
 *        1684 米領サモア, 1340 米領バージン諸島, 1787 プエルトリコ.
 *    Inferred from position only, not confirmed by a name in the data:
 *        1001 グアム (GU), 1002 北マリアナ諸島 (MP) (the two US territories
 *        between ニウエ and 米領サモア in the Oceania block), 9212 西サハラ
 *        (EH) (the one region after レソト in the Africa block).
 *  - ANPI_MOFA_DIAL: for territories not in the snapshots, the dialling
 *    code zero-padded, the rule MOFA follows for ordinary codes; only where
 *    that code belongs to the territory alone.
 * MOFA's list is kept as MOFA has it: a code is never computed from ISO at
 * run time. */
#include "feeds/overseas/country.h"

#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"

#define MOFA_NONE ANPI_MOFA_NONE
#define MOFA_SEEN ANPI_MOFA_SEEN
#define MOFA_DIAL ANPI_MOFA_DIAL

/* Sorted by alpha-2 (binary search). */
static const struct anpi_country countries[] = {
    { "AD", "AND", "Andorra", "アンドラ", "0376", MOFA_SEEN },
    { "AE", "ARE", "United Arab Emirates", "アラブ首長国連邦", "0971", MOFA_SEEN },
    { "AF", "AFG", "Afghanistan", "アフガニスタン", "0093", MOFA_SEEN },
    { "AG", "ATG", "Antigua and Barbuda", "アンティグア・バーブーダ", "1268", MOFA_SEEN },
    { "AI", "AIA", "Anguilla", "アンギラ", "1264", MOFA_DIAL },
    { "AL", "ALB", "Albania", "アルバニア", "0355", MOFA_SEEN },
    { "AM", "ARM", "Armenia", "アルメニア", "0374", MOFA_SEEN },
    { "AO", "AGO", "Angola", "アンゴラ", "0244", MOFA_SEEN },
    { "AQ", "ATA", "Antarctica", "南極", NULL, MOFA_NONE },
    { "AR", "ARG", "Argentina", "アルゼンチン", "0054", MOFA_SEEN },
    { "AS", "ASM", "American Samoa", "米領サモア", "1684", MOFA_SEEN },
    { "AT", "AUT", "Austria", "オーストリア", "0043", MOFA_SEEN },
    { "AU", "AUS", "Australia", "オーストラリア", "0061", MOFA_SEEN },
    { "AW", "ABW", "Aruba", "アルバ", "0297", MOFA_DIAL },
    { "AX", "ALA", "Åland Islands", "オーランド諸島", NULL, MOFA_NONE },
    { "AZ", "AZE", "Azerbaijan", "アゼルバイジャン", "0994", MOFA_SEEN },
    { "BA", "BIH", "Bosnia and Herzegovina", "ボスニア・ヘルツェゴビナ", "0387", MOFA_SEEN },
    { "BB", "BRB", "Barbados", "バルバドス", "1246", MOFA_SEEN },
    { "BD", "BGD", "Bangladesh", "バングラデシュ", "0880", MOFA_SEEN },
    { "BE", "BEL", "Belgium", "ベルギー", "0032", MOFA_SEEN },
    { "BF", "BFA", "Burkina Faso", "ブルキナファソ", "0226", MOFA_SEEN },
    { "BG", "BGR", "Bulgaria", "ブルガリア", "0359", MOFA_SEEN },
    { "BH", "BHR", "Bahrain", "バーレーン", "0973", MOFA_SEEN },
    { "BI", "BDI", "Burundi", "ブルンジ", "0257", MOFA_SEEN },
    { "BJ", "BEN", "Benin", "ベナン", "0229", MOFA_SEEN },
    { "BL", "BLM", "Saint Barthélemy", "サン・バルテルミー", NULL, MOFA_NONE },
    { "BM", "BMU", "Bermuda", "バーミューダ", "1441", MOFA_DIAL },
    { "BN", "BRN", "Brunei Darussalam", "ブルネイ", "0673", MOFA_SEEN },
    { "BO", "BOL", "Bolivia", "ボリビア", "0591", MOFA_SEEN },
    { "BQ", "BES", "Bonaire, Sint Eustatius and Saba", "ボネール、シント・ユースタティウス及びサバ", NULL, MOFA_NONE },
    { "BR", "BRA", "Brazil", "ブラジル", "0055", MOFA_SEEN },
    { "BS", "BHS", "Bahamas", "バハマ", "1242", MOFA_SEEN },
    { "BT", "BTN", "Bhutan", "ブータン", "0975", MOFA_SEEN },
    { "BV", "BVT", "Bouvet Island", "ブーベ島", NULL, MOFA_NONE },
    { "BW", "BWA", "Botswana", "ボツワナ", "0267", MOFA_SEEN },
    { "BY", "BLR", "Belarus", "ベラルーシ", "0375", MOFA_SEEN },
    { "BZ", "BLZ", "Belize", "ベリーズ", "0501", MOFA_SEEN },
    { "CA", "CAN", "Canada", "カナダ", "9001", MOFA_SEEN },
    { "CC", "CCK", "Cocos (Keeling) Islands", "ココス（キーリング）諸島", NULL, MOFA_NONE },
    { "CD", "COD", "Congo, The Democratic Republic of the", "コンゴ民主共和国", "0243", MOFA_SEEN },
    { "CF", "CAF", "Central African Republic", "中央アフリカ", "0236", MOFA_SEEN },
    { "CG", "COG", "Congo", "コンゴ共和国", "0242", MOFA_SEEN },
    { "CH", "CHE", "Switzerland", "スイス", "0041", MOFA_SEEN },
    { "CI", "CIV", "Côte d'Ivoire", "コートジボワール", "0225", MOFA_SEEN },
    { "CK", "COK", "Cook Islands", "クック諸島", "0682", MOFA_SEEN },
    { "CL", "CHL", "Chile", "チリ", "0056", MOFA_SEEN },
    { "CM", "CMR", "Cameroon", "カメルーン", "0237", MOFA_SEEN },
    { "CN", "CHN", "China", "中国", "0086", MOFA_SEEN },
    { "CO", "COL", "Colombia", "コロンビア", "0057", MOFA_SEEN },
    { "CR", "CRI", "Costa Rica", "コスタリカ", "0506", MOFA_SEEN },
    { "CU", "CUB", "Cuba", "キューバ", "0053", MOFA_SEEN },
    { "CV", "CPV", "Cabo Verde", "カーボベルデ", "0238", MOFA_SEEN },
    { "CW", "CUW", "Curaçao", "キュラソー", "0599", MOFA_DIAL },
    { "CX", "CXR", "Christmas Island", "クリスマス島", NULL, MOFA_NONE },
    { "CY", "CYP", "Cyprus", "キプロス", "0357", MOFA_SEEN },
    { "CZ", "CZE", "Czechia", "チェコ", "0420", MOFA_SEEN },
    { "DE", "DEU", "Germany", "ドイツ", "0049", MOFA_SEEN },
    { "DJ", "DJI", "Djibouti", "ジブチ", "0253", MOFA_SEEN },
    { "DK", "DNK", "Denmark", "デンマーク", "0045", MOFA_SEEN },
    { "DM", "DMA", "Dominica", "ドミニカ国", "0767", MOFA_SEEN },
    { "DO", "DOM", "Dominican Republic", "ドミニカ共和国", "0809", MOFA_SEEN },
    { "DZ", "DZA", "Algeria", "アルジェリア", "0213", MOFA_SEEN },
    { "EC", "ECU", "Ecuador", "エクアドル", "0593", MOFA_SEEN },
    { "EE", "EST", "Estonia", "エストニア", "0372", MOFA_SEEN },
    { "EG", "EGY", "Egypt", "エジプト", "0020", MOFA_SEEN },
    { "EH", "ESH", "Western Sahara", "西サハラ", "9212", MOFA_SEEN },
    { "ER", "ERI", "Eritrea", "エリトリア", "0291", MOFA_SEEN },
    { "ES", "ESP", "Spain", "スペイン", "0034", MOFA_SEEN },
    { "ET", "ETH", "Ethiopia", "エチオピア", "0251", MOFA_SEEN },
    { "FI", "FIN", "Finland", "フィンランド", "0358", MOFA_SEEN },
    { "FJ", "FJI", "Fiji", "フィジー", "0679", MOFA_SEEN },
    { "FK", "FLK", "Falkland Islands (Malvinas)", "フォークランド諸島", "0500", MOFA_DIAL },
    { "FM", "FSM", "Micronesia, Federated States of", "ミクロネシア", "0691", MOFA_SEEN },
    { "FO", "FRO", "Faroe Islands", "フェロー諸島", "0298", MOFA_DIAL },
    { "FR", "FRA", "France", "フランス", "0033", MOFA_SEEN },
    { "GA", "GAB", "Gabon", "ガボン", "0241", MOFA_SEEN },
    { "GB", "GBR", "United Kingdom", "英国", "0044", MOFA_SEEN },
    { "GD", "GRD", "Grenada", "グレナダ", "0473", MOFA_SEEN },
    { "GE", "GEO", "Georgia", "ジョージア", "0995", MOFA_SEEN },
    { "GF", "GUF", "French Guiana", "仏領ギアナ", "0594", MOFA_DIAL },
    { "GG", "GGY", "Guernsey", "ガーンジー", NULL, MOFA_NONE },
    { "GH", "GHA", "Ghana", "ガーナ", "0233", MOFA_SEEN },
    { "GI", "GIB", "Gibraltar", "ジブラルタル", "0350", MOFA_DIAL },
    { "GL", "GRL", "Greenland", "グリーンランド", "0299", MOFA_DIAL },
    { "GM", "GMB", "Gambia", "ガンビア", "0220", MOFA_SEEN },
    { "GN", "GIN", "Guinea", "ギニア", "0224", MOFA_SEEN },
    { "GP", "GLP", "Guadeloupe", "グアドループ", "0590", MOFA_DIAL },
    { "GQ", "GNQ", "Equatorial Guinea", "赤道ギニア", "0240", MOFA_SEEN },
    { "GR", "GRC", "Greece", "ギリシャ", "0030", MOFA_SEEN },
    { "GS", "SGS", "South Georgia and the South Sandwich Islands", "サウスジョージア・サウスサンドウィッチ諸島", NULL, MOFA_NONE },
    { "GT", "GTM", "Guatemala", "グアテマラ", "0502", MOFA_SEEN },
    { "GU", "GUM", "Guam", "グアム", "1001", MOFA_SEEN },
    { "GW", "GNB", "Guinea-Bissau", "ギニアビサウ", "0245", MOFA_SEEN },
    { "GY", "GUY", "Guyana", "ガイアナ", "0592", MOFA_SEEN },
    { "HK", "HKG", "Hong Kong", "香港", "0852", MOFA_SEEN },
    { "HM", "HMD", "Heard Island and McDonald Islands", "ハード島・マクドナルド諸島", NULL, MOFA_NONE },
    { "HN", "HND", "Honduras", "ホンジュラス", "0504", MOFA_SEEN },
    { "HR", "HRV", "Croatia", "クロアチア", "0385", MOFA_SEEN },
    { "HT", "HTI", "Haiti", "ハイチ", "0509", MOFA_SEEN },
    { "HU", "HUN", "Hungary", "ハンガリー", "0036", MOFA_SEEN },
    { "ID", "IDN", "Indonesia", "インドネシア", "0062", MOFA_SEEN },
    { "IE", "IRL", "Ireland", "アイルランド", "0353", MOFA_SEEN },
    { "IL", "ISR", "Israel", "イスラエル", "0972", MOFA_SEEN },
    { "IM", "IMN", "Isle of Man", "マン島", NULL, MOFA_NONE },
    { "IN", "IND", "India", "インド", "0091", MOFA_SEEN },
    { "IO", "IOT", "British Indian Ocean Territory", "英領インド洋地域", "0246", MOFA_DIAL },
    { "IQ", "IRQ", "Iraq", "イラク", "0964", MOFA_SEEN },
    { "IR", "IRN", "Iran", "イラン", "0098", MOFA_SEEN },
    { "IS", "ISL", "Iceland", "アイスランド", "0354", MOFA_SEEN },
    { "IT", "ITA", "Italy", "イタリア", "0039", MOFA_SEEN },
    { "JE", "JEY", "Jersey", "ジャージー", NULL, MOFA_NONE },
    { "JM", "JAM", "Jamaica", "ジャマイカ", "0876", MOFA_SEEN },
    { "JO", "JOR", "Jordan", "ヨルダン", "0962", MOFA_SEEN },
    { "JP", "JPN", "Japan", "日本", NULL, MOFA_NONE },
    { "KE", "KEN", "Kenya", "ケニア", "0254", MOFA_SEEN },
    { "KG", "KGZ", "Kyrgyzstan", "キルギス", "0996", MOFA_SEEN },
    { "KH", "KHM", "Cambodia", "カンボジア", "0855", MOFA_SEEN },
    { "KI", "KIR", "Kiribati", "キリバス", "0686", MOFA_SEEN },
    { "KM", "COM", "Comoros", "コモロ", "0269", MOFA_SEEN },
    { "KN", "KNA", "Saint Kitts and Nevis", "セントクリストファー・ネービス", "0869", MOFA_SEEN },
    { "KP", "PRK", "North Korea", "北朝鮮", "0850", MOFA_SEEN },
    { "KR", "KOR", "South Korea", "韓国", "0082", MOFA_SEEN },
    { "KW", "KWT", "Kuwait", "クウェート", "0965", MOFA_SEEN },
    { "KY", "CYM", "Cayman Islands", "ケイマン諸島", "1345", MOFA_DIAL },
    { "KZ", "KAZ", "Kazakhstan", "カザフスタン", "0007", MOFA_SEEN },
    { "LA", "LAO", "Laos", "ラオス", "0856", MOFA_SEEN },
    { "LB", "LBN", "Lebanon", "レバノン", "0961", MOFA_SEEN },
    { "LC", "LCA", "Saint Lucia", "セントルシア", "0758", MOFA_SEEN },
    { "LI", "LIE", "Liechtenstein", "リヒテンシュタイン", "0423", MOFA_SEEN },
    { "LK", "LKA", "Sri Lanka", "スリランカ", "0094", MOFA_SEEN },
    { "LR", "LBR", "Liberia", "リベリア", "0231", MOFA_SEEN },
    { "LS", "LSO", "Lesotho", "レソト", "0266", MOFA_SEEN },
    { "LT", "LTU", "Lithuania", "リトアニア", "0370", MOFA_SEEN },
    { "LU", "LUX", "Luxembourg", "ルクセンブルク", "0352", MOFA_SEEN },
    { "LV", "LVA", "Latvia", "ラトビア", "0371", MOFA_SEEN },
    { "LY", "LBY", "Libya", "リビア", "0218", MOFA_SEEN },
    { "MA", "MAR", "Morocco", "モロッコ", "0212", MOFA_SEEN },
    { "MC", "MCO", "Monaco", "モナコ", "0377", MOFA_SEEN },
    { "MD", "MDA", "Moldova", "モルドバ", "0373", MOFA_SEEN },
    { "ME", "MNE", "Montenegro", "モンテネグロ", "0382", MOFA_SEEN },
    { "MF", "MAF", "Saint Martin (French part)", "サン・マルタン（仏領）", NULL, MOFA_NONE },
    { "MG", "MDG", "Madagascar", "マダガスカル", "0261", MOFA_SEEN },
    { "MH", "MHL", "Marshall Islands", "マーシャル諸島", "0692", MOFA_SEEN },
    { "MK", "MKD", "North Macedonia", "北マケドニア", "0389", MOFA_SEEN },
    { "ML", "MLI", "Mali", "マリ", "0223", MOFA_SEEN },
    { "MM", "MMR", "Myanmar", "ミャンマー", "0095", MOFA_SEEN },
    { "MN", "MNG", "Mongolia", "モンゴル", "0976", MOFA_SEEN },
    { "MO", "MAC", "Macao", "マカオ", "0853", MOFA_SEEN },
    { "MP", "MNP", "Northern Mariana Islands", "北マリアナ諸島", "1002", MOFA_SEEN },
    { "MQ", "MTQ", "Martinique", "マルティニーク", "0596", MOFA_DIAL },
    { "MR", "MRT", "Mauritania", "モーリタニア", "0222", MOFA_SEEN },
    { "MS", "MSR", "Montserrat", "モントセラト", "1664", MOFA_DIAL },
    { "MT", "MLT", "Malta", "マルタ", "0356", MOFA_SEEN },
    { "MU", "MUS", "Mauritius", "モーリシャス", "0230", MOFA_SEEN },
    { "MV", "MDV", "Maldives", "モルディブ", "0960", MOFA_SEEN },
    { "MW", "MWI", "Malawi", "マラウイ", "0265", MOFA_SEEN },
    { "MX", "MEX", "Mexico", "メキシコ", "0052", MOFA_SEEN },
    { "MY", "MYS", "Malaysia", "マレーシア", "0060", MOFA_SEEN },
    { "MZ", "MOZ", "Mozambique", "モザンビーク", "0258", MOFA_SEEN },
    { "NA", "NAM", "Namibia", "ナミビア", "0264", MOFA_SEEN },
    { "NC", "NCL", "New Caledonia", "ニューカレドニア", "0687", MOFA_SEEN },
    { "NE", "NER", "Niger", "ニジェール", "0227", MOFA_SEEN },
    { "NF", "NFK", "Norfolk Island", "ノーフォーク島", "0672", MOFA_DIAL },
    { "NG", "NGA", "Nigeria", "ナイジェリア", "0234", MOFA_SEEN },
    { "NI", "NIC", "Nicaragua", "ニカラグア", "0505", MOFA_SEEN },
    { "NL", "NLD", "Netherlands", "オランダ", "0031", MOFA_SEEN },
    { "NO", "NOR", "Norway", "ノルウェー", "0047", MOFA_SEEN },
    { "NP", "NPL", "Nepal", "ネパール", "0977", MOFA_SEEN },
    { "NR", "NRU", "Nauru", "ナウル", "0674", MOFA_SEEN },
    { "NU", "NIU", "Niue", "ニウエ", "0683", MOFA_SEEN },
    { "NZ", "NZL", "New Zealand", "ニュージーランド", "0064", MOFA_SEEN },
    { "OM", "OMN", "Oman", "オマーン", "0968", MOFA_SEEN },
    { "PA", "PAN", "Panama", "パナマ", "0507", MOFA_SEEN },
    { "PE", "PER", "Peru", "ペルー", "0051", MOFA_SEEN },
    { "PF", "PYF", "French Polynesia", "仏領ポリネシア", "9689", MOFA_SEEN },
    { "PG", "PNG", "Papua New Guinea", "パプアニューギニア", "0675", MOFA_SEEN },
    { "PH", "PHL", "Philippines", "フィリピン", "0063", MOFA_SEEN },
    { "PK", "PAK", "Pakistan", "パキスタン", "0092", MOFA_SEEN },
    { "PL", "POL", "Poland", "ポーランド", "0048", MOFA_SEEN },
    { "PM", "SPM", "Saint Pierre and Miquelon", "サンピエール島・ミクロン島", "0508", MOFA_DIAL },
    { "PN", "PCN", "Pitcairn", "ピトケアン", NULL, MOFA_NONE },
    { "PR", "PRI", "Puerto Rico", "プエルトリコ", "1787", MOFA_SEEN },
    { "PS", "PSE", "Palestine, State of", "パレスチナ", "0970", MOFA_SEEN },
    { "PT", "PRT", "Portugal", "ポルトガル", "0351", MOFA_SEEN },
    { "PW", "PLW", "Palau", "パラオ", "0680", MOFA_SEEN },
    { "PY", "PRY", "Paraguay", "パラグアイ", "0595", MOFA_SEEN },
    { "QA", "QAT", "Qatar", "カタール", "0974", MOFA_SEEN },
    { "RE", "REU", "Réunion", "レユニオン", "0262", MOFA_DIAL },
    { "RO", "ROU", "Romania", "ルーマニア", "0040", MOFA_SEEN },
    { "RS", "SRB", "Serbia", "セルビア", "0381", MOFA_SEEN },
    { "RU", "RUS", "Russian Federation", "ロシア", "9007", MOFA_SEEN },
    { "RW", "RWA", "Rwanda", "ルワンダ", "0250", MOFA_SEEN },
    { "SA", "SAU", "Saudi Arabia", "サウジアラビア", "0966", MOFA_SEEN },
    { "SB", "SLB", "Solomon Islands", "ソロモン諸島", "0677", MOFA_SEEN },
    { "SC", "SYC", "Seychelles", "セーシェル", "0248", MOFA_SEEN },
    { "SD", "SDN", "Sudan", "スーダン", "0249", MOFA_SEEN },
    { "SE", "SWE", "Sweden", "スウェーデン", "0046", MOFA_SEEN },
    { "SG", "SGP", "Singapore", "シンガポール", "0065", MOFA_SEEN },
    { "SH", "SHN", "Saint Helena, Ascension and Tristan da Cunha", "セントヘレナ", "0290", MOFA_DIAL },
    { "SI", "SVN", "Slovenia", "スロベニア", "0386", MOFA_SEEN },
    { "SJ", "SJM", "Svalbard and Jan Mayen", "スバールバル・ヤンマイエン", NULL, MOFA_NONE },
    { "SK", "SVK", "Slovakia", "スロバキア", "0421", MOFA_SEEN },
    { "SL", "SLE", "Sierra Leone", "シエラレオネ", "0232", MOFA_SEEN },
    { "SM", "SMR", "San Marino", "サンマリノ", "0378", MOFA_SEEN },
    { "SN", "SEN", "Senegal", "セネガル", "0221", MOFA_SEEN },
    { "SO", "SOM", "Somalia", "ソマリア", "0252", MOFA_SEEN },
    { "SR", "SUR", "Suriname", "スリナム", "0597", MOFA_SEEN },
    { "SS", "SSD", "South Sudan", "南スーダン", "0211", MOFA_SEEN },
    { "ST", "STP", "Sao Tome and Principe", "サントメ・プリンシペ", "0239", MOFA_SEEN },
    { "SV", "SLV", "El Salvador", "エルサルバドル", "0503", MOFA_SEEN },
    { "SX", "SXM", "Sint Maarten (Dutch part)", "シント・マールテン", "1721", MOFA_DIAL },
    { "SY", "SYR", "Syria", "シリア", "0963", MOFA_SEEN },
    { "SZ", "SWZ", "Eswatini", "エスワティニ", "0268", MOFA_SEEN },
    { "TC", "TCA", "Turks and Caicos Islands", "タークス・カイコス諸島", "1649", MOFA_DIAL },
    { "TD", "TCD", "Chad", "チャド", "0235", MOFA_SEEN },
    { "TF", "ATF", "French Southern Territories", "仏領南方・南極地域", NULL, MOFA_NONE },
    { "TG", "TGO", "Togo", "トーゴ", "0228", MOFA_SEEN },
    { "TH", "THA", "Thailand", "タイ", "0066", MOFA_SEEN },
    { "TJ", "TJK", "Tajikistan", "タジキスタン", "0992", MOFA_SEEN },
    { "TK", "TKL", "Tokelau", "トケラウ", "0690", MOFA_DIAL },
    { "TL", "TLS", "Timor-Leste", "東ティモール", "0670", MOFA_SEEN },
    { "TM", "TKM", "Turkmenistan", "トルクメニスタン", "0993", MOFA_SEEN },
    { "TN", "TUN", "Tunisia", "チュニジア", "0216", MOFA_SEEN },
    { "TO", "TON", "Tonga", "トンガ", "0676", MOFA_SEEN },
    { "TR", "TUR", "Türkiye", "トルコ", "0090", MOFA_SEEN },
    { "TT", "TTO", "Trinidad and Tobago", "トリニダード・トバゴ", "0868", MOFA_SEEN },
    { "TV", "TUV", "Tuvalu", "ツバル", "0688", MOFA_SEEN },
    { "TW", "TWN", "Taiwan", "台湾", "0886", MOFA_SEEN },
    { "TZ", "TZA", "Tanzania", "タンザニア", "0255", MOFA_SEEN },
    { "UA", "UKR", "Ukraine", "ウクライナ", "0380", MOFA_SEEN },
    { "UG", "UGA", "Uganda", "ウガンダ", "0256", MOFA_SEEN },
    { "UM", "UMI", "United States Minor Outlying Islands", "合衆国領有小離島", NULL, MOFA_NONE },
    { "US", "USA", "United States", "米国", "1000", MOFA_SEEN },
    { "UY", "URY", "Uruguay", "ウルグアイ", "0598", MOFA_SEEN },
    { "UZ", "UZB", "Uzbekistan", "ウズベキスタン", "0998", MOFA_SEEN },
    { "VA", "VAT", "Holy See (Vatican City State)", "バチカン", "9039", MOFA_SEEN },
    { "VC", "VCT", "Saint Vincent and the Grenadines", "セントビンセント", "0784", MOFA_SEEN },
    { "VE", "VEN", "Venezuela", "ベネズエラ", "0058", MOFA_SEEN },
    { "VG", "VGB", "Virgin Islands, British", "英領バージン諸島", "1284", MOFA_DIAL },
    { "VI", "VIR", "Virgin Islands, U.S.", "米領バージン諸島", "1340", MOFA_SEEN },
    { "VN", "VNM", "Vietnam", "ベトナム", "0084", MOFA_SEEN },
    { "VU", "VUT", "Vanuatu", "バヌアツ", "0678", MOFA_SEEN },
    { "WF", "WLF", "Wallis and Futuna", "ウォリス・フツナ", "0681", MOFA_DIAL },
    { "WS", "WSM", "Samoa", "サモア", "0685", MOFA_SEEN },
    { "XK", "XKX", "Kosovo", "コソボ", "9381", MOFA_SEEN },
    { "YE", "YEM", "Yemen", "イエメン", "0967", MOFA_SEEN },
    { "YT", "MYT", "Mayotte", "マヨット", NULL, MOFA_NONE },
    { "ZA", "ZAF", "South Africa", "南アフリカ", "0027", MOFA_SEEN },
    { "ZM", "ZMB", "Zambia", "ザンビア", "0260", MOFA_SEEN },
    { "ZW", "ZWE", "Zimbabwe", "ジンバブエ", "0263", MOFA_SEEN },
};

/* Further MOFA codes for a country whose main code is in the table. */
static const struct {
    const char *code;
    const char *alpha2;
} mofa_extra[] = {
    { "1808", "US" },   /* ハワイ: its own code in MOFA's list, a US state in ISO */
};

/* English names that feeds use besides the table's own (GDACS writes
 * "Russia" and "Russian Federation", "Bosnia & Herzegovina", "P.N.G."). */
static const struct {
    const char *name;
    const char *alpha2;
} aliases[] = {
    { "Russia", "RU" },
    { "Iran, Islamic Republic of", "IR" },
    { "Islamic Republic of Iran", "IR" },
    { "Lao People's Democratic Republic", "LA" },
    { "Lao PDR", "LA" },
    { "Viet Nam", "VN" },
    { "Bosnia & Herzegovina", "BA" },
    { "Bosnia-Herzegovina", "BA" },
    { "Moldova, Republic of", "MD" },
    { "Republic of Moldova", "MD" },
    { "Bolivia, Plurinational State of", "BO" },
    { "Venezuela, Bolivarian Republic of", "VE" },
    { "Syrian Arab Republic", "SY" },
    { "Tanzania, United Republic of", "TZ" },
    { "United Republic of Tanzania", "TZ" },
    { "Korea, Republic of", "KR" },
    { "Republic of Korea", "KR" },
    { "Korea", "KR" },
    { "Korea, Democratic People's Republic of", "KP" },
    { "Democratic People's Republic of Korea", "KP" },
    { "Taiwan, Province of China", "TW" },
    { "Micronesia", "FM" },
    { "Micronesia, Federated States of", "FM" },
    { "Federated States of Micronesia", "FM" },
    { "P.N.G.", "PG" },
    { "PNG", "PG" },
    { "Virgin Islands U.S.", "VI" },
    { "US Virgin Islands", "VI" },
    { "U.S. Virgin Islands", "VI" },
    { "Virgin Islands British", "VG" },
    { "British Virgin Islands", "VG" },
    { "Turkey", "TR" },
    { "Turkiye", "TR" },
    { "Czech Republic", "CZ" },
    { "Swaziland", "SZ" },
    { "Macedonia", "MK" },
    { "The former Yugoslav Republic of Macedonia", "MK" },
    { "Cape Verde", "CV" },
    { "Ivory Coast", "CI" },
    { "Cote d'Ivoire", "CI" },
    { "Congo, The Democratic Republic of the", "CD" },
    { "Democratic Republic of the Congo", "CD" },
    { "Democratic Republic of Congo", "CD" },
    { "DR Congo", "CD" },
    { "Republic of the Congo", "CG" },
    { "Republic of Congo", "CG" },
    { "Brunei", "BN" },
    { "Brunei Darussalam", "BN" },
    { "East Timor", "TL" },
    { "Burma", "MM" },
    { "Palestine", "PS" },
    { "Palestine, State of", "PS" },
    { "State of Palestine", "PS" },
    { "United States of America", "US" },
    { "USA", "US" },
    { "United Kingdom of Great Britain and Northern Ireland", "GB" },
    { "UK", "GB" },
    { "Great Britain", "GB" },
    { "Vatican", "VA" },
    { "Vatican City", "VA" },
    { "Holy See", "VA" },
    { "Holy See (Vatican City State)", "VA" },
    { "Reunion", "RE" },
    { "Curacao", "CW" },
    { "Sao Tome & Principe", "ST" },
    { "St. Kitts and Nevis", "KN" },
    { "St. Lucia", "LC" },
    { "St. Vincent and the Grenadines", "VC" },
    { "Antigua & Barbuda", "AG" },
    { "Trinidad & Tobago", "TT" },
    { "Falkland Islands", "FK" },
    { "The Bahamas", "BS" },
    { "The Gambia", "GM" },
    { "Hong Kong SAR", "HK" },
    { "Macau", "MO" },
    { "Macao SAR", "MO" },
};

size_t
anpi_country_count(void)
{
    return ANPI_ARRAY_LEN(countries);
}

const struct anpi_country *
anpi_country_at(size_t i)
{
    return i < ANPI_ARRAY_LEN(countries) ? &countries[i] : NULL;
}

static int
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static char
lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive (ASCII) equality of a code against s with blanks
 * around s ignored. */
static int
code_eq(const char *code, const char *s)
{
    while (is_blank(*s))
        s++;
    while (*code && lower(*code) == lower(*s)) {
        code++;
        s++;
    }
    if (*code)
        return 0;
    while (is_blank(*s))
        s++;
    return *s == '\0';
}

/* Names: case-insensitive, blanks around ignored, inner runs of blanks
 * equal to one space. */
static int
name_eq(const char *a, const char *b)
{
    while (is_blank(*a))
        a++;
    while (is_blank(*b))
        b++;
    for (;;) {
        if (is_blank(*a) || is_blank(*b)) {
            int ea = is_blank(*a), eb = is_blank(*b);
            while (is_blank(*a))
                a++;
            while (is_blank(*b))
                b++;
            if (*a == '\0' && *b == '\0')
                return 1;   /* trailing blanks */
            if (!ea || !eb)
                return 0;
            continue;
        }
        if (*a == '\0' || *b == '\0')
            return *a == *b;
        if (lower(*a) != lower(*b))
            return 0;
        a++;
        b++;
    }
}

static int
cmp_alpha2(const void *key, const void *elem)
{
    const char *k = key;
    const struct anpi_country *c = elem;
    return strcmp(k, c->alpha2);
}

const struct anpi_country *
anpi_country_by_alpha2(const char *alpha2)
{
    if (!alpha2)
        return NULL;
    while (is_blank(*alpha2))
        alpha2++;
    char key[3];
    for (int i = 0; i < 2; i++) {
        char c = alpha2[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return NULL;
        key[i] = c;
    }
    key[2] = '\0';
    for (const char *p = alpha2 + 2; *p; p++)
        if (!is_blank(*p))
            return NULL;
    return bsearch(key, countries, ANPI_ARRAY_LEN(countries), sizeof(countries[0]), cmp_alpha2);
}

const struct anpi_country *
anpi_country_by_alpha3(const char *alpha3)
{
    for (size_t i = 0; alpha3 && i < ANPI_ARRAY_LEN(countries); i++)
        if (code_eq(countries[i].alpha3, alpha3))
            return &countries[i];
    return NULL;
}

const struct anpi_country *
anpi_country_by_name_en(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(countries); i++)
        if (name_eq(countries[i].name_en, name))
            return &countries[i];
    for (size_t i = 0; i < ANPI_ARRAY_LEN(aliases); i++)
        if (name_eq(aliases[i].name, name))
            return anpi_country_by_alpha2(aliases[i].alpha2);
    return NULL;
}

const struct anpi_country *
anpi_country_by_mofa(const char *code)
{
    if (!code)
        return NULL;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(countries); i++)
        if (countries[i].mofa && code_eq(countries[i].mofa, code))
            return &countries[i];
    for (size_t i = 0; i < ANPI_ARRAY_LEN(mofa_extra); i++)
        if (code_eq(mofa_extra[i].code, code))
            return anpi_country_by_alpha2(mofa_extra[i].alpha2);
    return NULL;
}

const char *
anpi_country_name_ja(const char *alpha2)
{
    const struct anpi_country *c = anpi_country_by_alpha2(alpha2);
    return c ? c->name_ja : NULL;
}

static int
put(const struct anpi_country *c, char out[3])
{
    if (!c) {
        out[0] = '\0';
        return ANPI_ENOTFOUND;
    }
    memcpy(out, c->alpha2, 3);
    return ANPI_OK;
}

int
anpi_country_from_alpha3(const char *alpha3, char out[3])
{
    return put(anpi_country_by_alpha3(alpha3), out);
}

int
anpi_country_from_name_en(const char *name, char out[3])
{
    return put(anpi_country_by_name_en(name), out);
}

int
anpi_country_from_mofa(const char *code, char out[3])
{
    return put(anpi_country_by_mofa(code), out);
}
