/* eew_areas.c - 緊急地震速報／府県予報区 (EEW prefecture forecast areas) ->
 * JIS X 0401 prefecture codes.
 *
 * EEW telegrams (VXSE43/44/45) group their 細分区域 under Body/Intensity/
 * Forecast/Pref whose Code is this 4-digit list, not JIS: "9170" 石川.
 * Source: 気象庁防災情報XML 個別コード表 「緊急地震速報／府県予報区」 (JMA,
 * xml.kishou.go.jp/tec_material.html); the codes seen in the corpus (2011
 * 三陸沖, 2024-01-16 能登半島沖, 2024-04-17 豊後水道: 9040 .. 9461) agree.
 * The list is 9 + JIS code + one digit that splits 北海道 (4 areas),
 * 東京 (東京 / 伊豆諸島 / 小笠原), 鹿児島 (本土 / 奄美群島) and 沖縄 (4 areas);
 * it is spelled out rather than computed so an unknown code is refused
 * instead of being guessed into a prefecture. */
#include <string.h>

#include "engine/anpi.h"
#include "feeds/jma/jma_areas.h"

static const struct {
    const char *code;
    const char *name;
    int pref;
} eew_prefs[] = {
    { "9011", "北海道道央", 1 }, { "9012", "北海道道南", 1 },
    { "9013", "北海道道北", 1 }, { "9014", "北海道道東", 1 },
    { "9020", "青森", 2 }, { "9030", "岩手", 3 }, { "9040", "宮城", 4 },
    { "9050", "秋田", 5 }, { "9060", "山形", 6 }, { "9070", "福島", 7 },
    { "9080", "茨城", 8 }, { "9090", "栃木", 9 }, { "9100", "群馬", 10 },
    { "9110", "埼玉", 11 }, { "9120", "千葉", 12 },
    { "9131", "東京", 13 }, { "9132", "伊豆諸島", 13 }, { "9133", "小笠原", 13 },
    { "9140", "神奈川", 14 }, { "9150", "新潟", 15 }, { "9160", "富山", 16 },
    { "9170", "石川", 17 }, { "9180", "福井", 18 }, { "9190", "山梨", 19 },
    { "9200", "長野", 20 }, { "9210", "岐阜", 21 }, { "9220", "静岡", 22 },
    { "9230", "愛知", 23 }, { "9240", "三重", 24 }, { "9250", "滋賀", 25 },
    { "9260", "京都", 26 }, { "9270", "大阪", 27 }, { "9280", "兵庫", 28 },
    { "9290", "奈良", 29 }, { "9300", "和歌山", 30 }, { "9310", "鳥取", 31 },
    { "9320", "島根", 32 }, { "9330", "岡山", 33 }, { "9340", "広島", 34 },
    { "9350", "山口", 35 }, { "9360", "徳島", 36 }, { "9370", "香川", 37 },
    { "9380", "愛媛", 38 }, { "9390", "高知", 39 }, { "9400", "福岡", 40 },
    { "9410", "佐賀", 41 }, { "9420", "長崎", 42 }, { "9430", "熊本", 43 },
    { "9440", "大分", 44 }, { "9450", "宮崎", 45 },
    { "9461", "鹿児島", 46 }, { "9462", "奄美群島", 46 },
    { "9471", "沖縄本島", 47 }, { "9472", "大東島", 47 },
    { "9473", "宮古島", 47 }, { "9474", "八重山", 47 },
};

static int
find(const char *code)
{
    if (!code)
        return -1;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(eew_prefs); i++)
        if (strcmp(eew_prefs[i].code, code) == 0)
            return (int)i;
    return -1;
}

int
anpi_jma_eew_pref(const char *code)
{
    int i = find(code);
    return i < 0 ? 0 : eew_prefs[i].pref;
}

const char *
anpi_jma_eew_pref_name(const char *code)
{
    int i = find(code);
    return i < 0 ? NULL : eew_prefs[i].name;
}
