"""Where a sign-in came from: the sign-in view's ``source_country`` (engine side, standard library).

The engine never opens a GeoIP database. On Splunk the country arrives as a field: the saved search
runs ``iplocation sourceIPAddress`` (the MMDB-format database Splunk ships; whose data it is, MaxMind's
GeoLite2 or another vendor's, was not verified here), which adds ``Country``, the
country's *name* in the database's English names (``country.names.en``; Search Reference,
iplocation, https://help.splunk.com/splunk-enterprise/spl-search-reference/9.4/search-commands/iplocation:
"the City, Country, Region, _time, lat, and lon fields are added"; "For IP addresses which do not
have a location, such as internal addresses, no fields are added"). Elastic's ingest pipeline writes
the ISO 3166-1 alpha-2 code (``source.geo.country_iso_code``). So that one detection gives the same
alert on both platforms, the view holds the ISO code: a Splunk name is mapped back to its code
through ``CODE_BY_NAME``, MaxMind's own English names (GeoLite2-Country-Locations-en.csv, as mirrored
in Loyalsoldier/geoip at 3ff897085e56913c6df8cd2cb771fc791c8ac826; 250 countries). A name the table
does not know (a renamed country in an older or newer database: MaxMind has renamed Turkey to
Türkiye and Czech Republic to Czechia) is kept as Splunk wrote it: it still counts as one distinct
country, and only the value shown in an alert differs from Elastic's. Locally (replay, tests, the
equivalence check) the harness looks the address up itself (harness/geoip.py) and sets the code.

An address never has a country when it is not a public IP address (``countable``): no address at
all, CloudTrail's ``AWS Internal`` and service names (``signin.amazonaws.com``), private and
reserved ranges (RFC 1918, loopback, link-local, CGNAT 100.64.0.0/10, IPv6 unique local fc00::/7,
IPv4-mapped forms of those). The documentation ranges (RFC 5737, RFC 3849) do count: no real
sign-in comes from them, and the project's fixtures and test databases use them as public addresses.
"""

import ipaddress

# networks that are never a sign-in's location, beyond what ipaddress calls private/loopback/...
_CGNAT = ipaddress.ip_network("100.64.0.0/10")   # RFC 6598 shared address space
# RFC 5737 / RFC 3849 documentation ranges: ipaddress calls them private, but the project's
# fixtures and test databases use them as stand-ins for public addresses
_DOCUMENTATION = tuple(ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))

# MaxMind's English country name -> ISO 3166-1 alpha-2 code (see the module docstring)
CODE_BY_NAME = {
    'Andorra': 'AD', 'United Arab Emirates': 'AE', 'Afghanistan': 'AF', 'Antigua and Barbuda': 'AG',
    'Anguilla': 'AI', 'Albania': 'AL', 'Armenia': 'AM', 'Angola': 'AO', 'Antarctica': 'AQ', 'Argentina': 'AR',
    'American Samoa': 'AS', 'Austria': 'AT', 'Australia': 'AU', 'Aruba': 'AW', 'Åland Islands': 'AX',
    'Azerbaijan': 'AZ', 'Bosnia and Herzegovina': 'BA', 'Barbados': 'BB', 'Bangladesh': 'BD', 'Belgium': 'BE',
    'Burkina Faso': 'BF', 'Bulgaria': 'BG', 'Bahrain': 'BH', 'Burundi': 'BI', 'Benin': 'BJ',
    'Saint Barthélemy': 'BL', 'Bermuda': 'BM', 'Brunei': 'BN', 'Bolivia': 'BO',
    'Bonaire, Sint Eustatius and Saba': 'BQ', 'Brazil': 'BR', 'Bahamas': 'BS', 'Bhutan': 'BT',
    'Bouvet Island': 'BV', 'Botswana': 'BW', 'Belarus': 'BY', 'Belize': 'BZ', 'Canada': 'CA',
    'Cocos (Keeling) Islands': 'CC', 'Congo (DRC)': 'CD', 'Central African Republic': 'CF',
    'Congo Republic': 'CG', 'Switzerland': 'CH', 'Ivory Coast': 'CI', 'Cook Islands': 'CK', 'Chile': 'CL',
    'Cameroon': 'CM', 'China': 'CN', 'Colombia': 'CO', 'Costa Rica': 'CR', 'Cuba': 'CU', 'Cabo Verde': 'CV',
    'Curaçao': 'CW', 'Christmas Island': 'CX', 'Cyprus': 'CY', 'Czechia': 'CZ', 'Germany': 'DE',
    'Djibouti': 'DJ', 'Denmark': 'DK', 'Dominica': 'DM', 'Dominican Republic': 'DO', 'Algeria': 'DZ',
    'Ecuador': 'EC', 'Estonia': 'EE', 'Egypt': 'EG', 'Western Sahara': 'EH', 'Eritrea': 'ER', 'Spain': 'ES',
    'Ethiopia': 'ET', 'Finland': 'FI', 'Fiji': 'FJ', 'Falkland Islands': 'FK',
    'Federated States of Micronesia': 'FM', 'Faroe Islands': 'FO', 'France': 'FR', 'Gabon': 'GA',
    'United Kingdom': 'GB', 'Grenada': 'GD', 'Georgia': 'GE', 'French Guiana': 'GF', 'Guernsey': 'GG',
    'Ghana': 'GH', 'Gibraltar': 'GI', 'Greenland': 'GL', 'Gambia': 'GM', 'Guinea': 'GN', 'Guadeloupe': 'GP',
    'Equatorial Guinea': 'GQ', 'Greece': 'GR', 'South Georgia and the South Sandwich Islands': 'GS',
    'Guatemala': 'GT', 'Guam': 'GU', 'Guinea-Bissau': 'GW', 'Guyana': 'GY', 'Hong Kong': 'HK',
    'Heard and McDonald Islands': 'HM', 'Honduras': 'HN', 'Croatia': 'HR', 'Haiti': 'HT', 'Hungary': 'HU',
    'Indonesia': 'ID', 'Ireland': 'IE', 'Israel': 'IL', 'Isle of Man': 'IM', 'India': 'IN',
    'British Indian Ocean Territory': 'IO', 'Iraq': 'IQ', 'Iran': 'IR', 'Iceland': 'IS', 'Italy': 'IT',
    'Jersey': 'JE', 'Jamaica': 'JM', 'Jordan': 'JO', 'Japan': 'JP', 'Kenya': 'KE', 'Kyrgyzstan': 'KG',
    'Cambodia': 'KH', 'Kiribati': 'KI', 'Comoros': 'KM', 'Saint Kitts and Nevis': 'KN', 'North Korea': 'KP',
    'South Korea': 'KR', 'Kuwait': 'KW', 'Cayman Islands': 'KY', 'Kazakhstan': 'KZ', 'Laos': 'LA',
    'Lebanon': 'LB', 'Saint Lucia': 'LC', 'Liechtenstein': 'LI', 'Sri Lanka': 'LK', 'Liberia': 'LR',
    'Lesotho': 'LS', 'Lithuania': 'LT', 'Luxembourg': 'LU', 'Latvia': 'LV', 'Libya': 'LY', 'Morocco': 'MA',
    'Monaco': 'MC', 'Moldova': 'MD', 'Montenegro': 'ME', 'Saint Martin': 'MF', 'Madagascar': 'MG',
    'Marshall Islands': 'MH', 'North Macedonia': 'MK', 'Mali': 'ML', 'Myanmar': 'MM', 'Mongolia': 'MN',
    'Macao': 'MO', 'Northern Mariana Islands': 'MP', 'Martinique': 'MQ', 'Mauritania': 'MR',
    'Montserrat': 'MS', 'Malta': 'MT', 'Mauritius': 'MU', 'Maldives': 'MV', 'Malawi': 'MW', 'Mexico': 'MX',
    'Malaysia': 'MY', 'Mozambique': 'MZ', 'Namibia': 'NA', 'New Caledonia': 'NC', 'Niger': 'NE',
    'Norfolk Island': 'NF', 'Nigeria': 'NG', 'Nicaragua': 'NI', 'Netherlands': 'NL', 'Norway': 'NO',
    'Nepal': 'NP', 'Nauru': 'NR', 'Niue': 'NU', 'New Zealand': 'NZ', 'Oman': 'OM', 'Panama': 'PA',
    'Peru': 'PE', 'French Polynesia': 'PF', 'Papua New Guinea': 'PG', 'Philippines': 'PH', 'Pakistan': 'PK',
    'Poland': 'PL', 'Saint Pierre and Miquelon': 'PM', 'Pitcairn Islands': 'PN', 'Puerto Rico': 'PR',
    'Palestine': 'PS', 'Portugal': 'PT', 'Palau': 'PW', 'Paraguay': 'PY', 'Qatar': 'QA', 'Réunion': 'RE',
    'Romania': 'RO', 'Serbia': 'RS', 'Russia': 'RU', 'Rwanda': 'RW', 'Saudi Arabia': 'SA',
    'Solomon Islands': 'SB', 'Seychelles': 'SC', 'Sudan': 'SD', 'Sweden': 'SE', 'Singapore': 'SG',
    'St. Helena': 'SH', 'Slovenia': 'SI', 'Svalbard and Jan Mayen': 'SJ', 'Slovakia': 'SK',
    'Sierra Leone': 'SL', 'San Marino': 'SM', 'Senegal': 'SN', 'Somalia': 'SO', 'Suriname': 'SR',
    'South Sudan': 'SS', 'São Tomé and Príncipe': 'ST', 'El Salvador': 'SV', 'Sint Maarten': 'SX',
    'Syria': 'SY', 'Eswatini': 'SZ', 'Turks and Caicos Islands': 'TC', 'Chad': 'TD',
    'French Southern Territories': 'TF', 'Togo': 'TG', 'Thailand': 'TH', 'Tajikistan': 'TJ', 'Tokelau': 'TK',
    'Timor-Leste': 'TL', 'Turkmenistan': 'TM', 'Tunisia': 'TN', 'Tonga': 'TO', 'Türkiye': 'TR',
    'Trinidad and Tobago': 'TT', 'Tuvalu': 'TV', 'Taiwan': 'TW', 'Tanzania': 'TZ', 'Ukraine': 'UA',
    'Uganda': 'UG', 'United States Minor Outlying Islands': 'UM', 'United States': 'US', 'Uruguay': 'UY',
    'Uzbekistan': 'UZ', 'Vatican City': 'VA', 'Saint Vincent and the Grenadines': 'VC', 'Venezuela': 'VE',
    'British Virgin Islands': 'VG', 'U.S. Virgin Islands': 'VI', 'Vietnam': 'VN', 'Vanuatu': 'VU',
    'Wallis and Futuna': 'WF', 'Samoa': 'WS', 'Kosovo': 'XK', 'Yemen': 'YE', 'Mayotte': 'YT',
    'South Africa': 'ZA', 'Zambia': 'ZM', 'Zimbabwe': 'ZW',
}


def countable(address):
    """True when ``address`` is a public IPv4/IPv6 address text whose country may count."""
    if not isinstance(address, str) or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False   # AWS Internal, signin.amazonaws.com, redacted ...
    if getattr(ip, "ipv4_mapped", None) is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _DOCUMENTATION):
        return True
    if ip.version == 4 and ip in _CGNAT:
        return False
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                or ip.is_reserved or ip.is_unspecified or not ip.is_global)


def from_splunk_country(value, address):
    """``source_country`` from the ``Country`` field ``iplocation`` added (a name, or a list of them
    for a multivalue field: the first), for an event whose source address is ``address``."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not value or not countable(address):
        return None
    return CODE_BY_NAME.get(value, value)


def checked_code(value, address):
    """``source_country`` from an ISO code a lookup gave (the local harness): None for an address
    that never counts or an empty code."""
    if not isinstance(value, str) or not value or not countable(address):
        return None
    return value
