/* tsunami_areas.c - the 66 津波予報区 (tsunami forecast areas) and the
 * prefectures whose coasts they cover.
 *
 * Source of the codes and names: 気象庁防災情報XML 個別コード表 「津波予報区」
 * (JMA, xml.kishou.go.jp/tec_material.html), cross-checked against every
 * Body/Tsunami/Forecast/Item/Area in the corpus (official samples 2011 東北,
 * 2015 薩摩半島西方沖, real 2022 Tonga: all 66 codes appear there; 772 is
 * also written 奄美諸島・トカラ列島 in older telegrams).  Area -> prefecture:
 * JMA's map of the 津波予報区 (気象庁「津波予報区の名称と区域」); areas named
 * after a prefecture lie in it; the shared ones are
 *   312 東京湾内湾     千葉県 (富津岬以北)・東京都・神奈川県 (観音崎以北)
 *   391 伊勢・三河湾   愛知県・三重県
 *   712 有明・八代海   福岡県・佐賀県・長崎県・熊本県
 * and the island areas belong to their prefecture: 320 伊豆諸島 / 321
 * 小笠原諸島 -> 東京都, 341 佐渡 -> 新潟県, 551 隠岐 -> 島根県, 731 壱岐・対馬
 * -> 長崎県, 771/772 -> 鹿児島県, 801/802 -> 沖縄県.  北海道 has six areas.
 * The aggregated 津波予報領域表現 codes of Head/Headline (191, 291, 492, ...)
 * are deliberately absent: they never appear in a Body item. */
#include <string.h>

#include "engine/anpi.h"
#include "feeds/jma/jma_areas.h"

#define P(c) ANPI_PREFSET_BIT(c)

static const struct anpi_jma_tsunami_area areas[] = {
    { "100", "北海道太平洋沿岸東部", P(1) },
    { "101", "北海道太平洋沿岸中部", P(1) },
    { "102", "北海道太平洋沿岸西部", P(1) },
    { "110", "北海道日本海沿岸北部", P(1) },
    { "111", "北海道日本海沿岸南部", P(1) },
    { "120", "オホーツク海沿岸", P(1) },
    { "200", "青森県日本海沿岸", P(2) },
    { "201", "青森県太平洋沿岸", P(2) },
    { "202", "陸奥湾", P(2) },
    { "210", "岩手県", P(3) },
    { "220", "宮城県", P(4) },
    { "230", "秋田県", P(5) },
    { "240", "山形県", P(6) },
    { "250", "福島県", P(7) },
    { "300", "茨城県", P(8) },
    { "310", "千葉県九十九里・外房", P(12) },
    { "311", "千葉県内房", P(12) },
    { "312", "東京湾内湾", P(12) | P(13) | P(14) },
    { "320", "伊豆諸島", P(13) },
    { "321", "小笠原諸島", P(13) },
    { "330", "相模湾・三浦半島", P(14) },
    { "340", "新潟県上中下越", P(15) },
    { "341", "佐渡", P(15) },
    { "350", "富山県", P(16) },
    { "360", "石川県能登", P(17) },
    { "361", "石川県加賀", P(17) },
    { "370", "福井県", P(18) },
    { "380", "静岡県", P(22) },
    { "390", "愛知県外海", P(23) },
    { "391", "伊勢・三河湾", P(23) | P(24) },
    { "400", "三重県南部", P(24) },
    { "500", "京都府", P(26) },
    { "510", "大阪府", P(27) },
    { "520", "兵庫県北部", P(28) },
    { "521", "兵庫県瀬戸内海沿岸", P(28) },
    { "522", "淡路島南部", P(28) },
    { "530", "和歌山県", P(30) },
    { "540", "鳥取県", P(31) },
    { "550", "島根県出雲・石見", P(32) },
    { "551", "隠岐", P(32) },
    { "560", "岡山県", P(33) },
    { "570", "広島県", P(34) },
    { "580", "徳島県", P(36) },
    { "590", "香川県", P(37) },
    { "600", "愛媛県宇和海沿岸", P(38) },
    { "601", "愛媛県瀬戸内海沿岸", P(38) },
    { "610", "高知県", P(39) },
    { "700", "山口県日本海沿岸", P(35) },
    { "701", "山口県瀬戸内海沿岸", P(35) },
    { "710", "福岡県瀬戸内海沿岸", P(40) },
    { "711", "福岡県日本海沿岸", P(40) },
    { "712", "有明・八代海", P(40) | P(41) | P(42) | P(43) },
    { "720", "佐賀県北部", P(41) },
    { "730", "長崎県西方", P(42) },
    { "731", "壱岐・対馬", P(42) },
    { "740", "熊本県天草灘沿岸", P(43) },
    { "750", "大分県瀬戸内海沿岸", P(44) },
    { "751", "大分県豊後水道沿岸", P(44) },
    { "760", "宮崎県", P(45) },
    { "770", "鹿児島県東部", P(46) },
    { "771", "種子島・屋久島地方", P(46) },
    { "772", "奄美群島・トカラ列島", P(46) },
    { "773", "鹿児島県西部", P(46) },
    { "800", "沖縄本島地方", P(47) },
    { "801", "大東島地方", P(47) },
    { "802", "宮古島・八重山地方", P(47) },
};

const struct anpi_jma_tsunami_area *
anpi_jma_tsunami_area(const char *code)
{
    if (!code)
        return NULL;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(areas); i++)
        if (strcmp(areas[i].code, code) == 0)
            return &areas[i];
    return NULL;
}

const struct anpi_jma_tsunami_area *
anpi_jma_tsunami_areas(size_t *n)
{
    *n = ANPI_ARRAY_LEN(areas);
    return areas;
}
