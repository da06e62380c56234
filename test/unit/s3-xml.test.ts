import {describe, expect, it} from 'vitest'
import {childrenNamed, childText, decodeEntities, parseXml} from '../../src/backends/s3/xml.js'

describe('the S3 XML reader', () => {
  it('reads elements and text, decoding entities and character references', () => {
    const root = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Contents><Key>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#252; &#x1F600;</Key><Size>12</Size></Contents>' +
        '<Contents><Key><![CDATA[x<y>&z]]></Key><Size>0</Size></Contents>' +
        '<!-- a comment --><IsTruncated>false</IsTruncated><Empty/></ListBucketResult>',
    )
    expect(root.name).toBe('ListBucketResult')
    const contents = childrenNamed(root, 'Contents')
    expect(contents.map((c) => childText(c, 'Key'))).toEqual([`a & b <c> "d" 'e' ü 😀`, 'x<y>&z'])
    expect(childText(root, 'IsTruncated')).toBe('false')
    expect(childText(root, 'Empty')).toBe('')
    expect(childText(root, 'Missing')).toBeUndefined()
  })

  it('keeps whitespace inside values and drops namespace prefixes', () => {
    const root = parseXml('<s3:Error xmlns:s3="x" a=">"><s3:Code> Spaced </s3:Code></s3:Error>')
    expect(root.name).toBe('Error')
    expect(childText(root, 'Code')).toBe(' Spaced ')
  })

  it('decodes one level only', () => {
    expect(decodeEntities('&amp;lt;')).toBe('&lt;')
  })

  it('refuses what is not well-formed XML', () => {
    for (const bad of ['<a><b></a>', '<a>', '<a></a><b></b>', '<html>&nbsp;</html>', 'plain text', '', '<a>&#xZZ;</a>', '<a b="></a>']) {
      expect(() => parseXml(bad), bad).toThrow()
    }
  })
})
