/* weather_areas.c - weather-warning area codes -> JIS X 0401 prefectures.
 *
 * VPWW53/54 name areas on four levels (Body/Warning/@type):
 *   府県予報区等            6 digits  "130000" 東京都, "011000" 宗谷地方
 *   一次細分区域等          6 digits  "130010" 東京地方
 *   市町村等をまとめた地域等 6 digits  "130011" 23区東部
 *   市町村等                7 digits  "1310100" 千代田区
 * (気象庁防災情報XML 個別コード表 「気象・地震・火山情報／府県予報区等」,
 * 「…／一次細分区域等」, 「…／市町村等をまとめた地域等」, 「…／市町村等」).
 * Every one of them starts with the JIS prefecture code: the 7-digit form is
 * the 全国地方公共団体コード without its check digit plus two digits, and the
 * 6-digit forms are built on the prefecture code too (北海道's 府県予報区 are
 * 01xxxx, 沖縄's 47xxxx).  So the prefecture is read from the first two
 * digits; a code that is not all digits of length 6 or 7, or whose first
 * two digits are no JIS code, is refused rather than guessed. */
#include <string.h>

#include "feeds/jma/jma_areas.h"

int
anpi_jma_weather_area_pref(const char *code)
{
    if (!code)
        return 0;
    size_t n = strlen(code);
    if (n != 6 && n != 7)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (code[i] < '0' || code[i] > '9')
            return 0;
    int p = (code[0] - '0') * 10 + (code[1] - '0');
    return p >= 1 && p <= ANPI_PREF_COUNT ? p : 0;
}
